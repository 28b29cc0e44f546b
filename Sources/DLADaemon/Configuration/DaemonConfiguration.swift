import DLAFormat

/// Everything an operator can set, with the installed defaults.
///
/// Layers, later ones winning: these defaults, the TOML file (`/etc/dlad/dlad.toml` when it
/// exists, or `--config`), `DLAD_*` environment variables, then command-line flags. Every
/// setting has one entry in `DaemonConfiguration.settings`, which names its key, its variable and
/// its meaning; docs/DAEMON.md lists them.
public struct DaemonConfiguration: Sendable, Equatable {
    public enum Durability: String, Sendable, Equatable, CaseIterable {
        case full, normal
    }

    public var stateDirectory = "/var/lib/dlad"
    public var socketPath = "/run/dlad/dlad.sock"
    /// Group of the socket file; who may connect. Nil keeps the daemon's own group.
    public var socketGroup: String? = "dlad"
    public var socketMode = 0o660
    /// Members (and root) may push, activate, roll back and delete models.
    public var adminGroup = "dlad-admin"
    public var firmwareModels = "/usr/share/dlad/firmware-models"
    public var durability: Durability = .full
    /// Emulated DLA cores, each an engine worker thread.
    public var engines = 2
    /// Hardware profile every model runs on; nil runs each on its own target profile.
    public var profile: String?
    /// Requests waiting for an engine beyond this are refused with 503.
    public var queueCapacity = 256
    /// A request not finished within this is answered 504 (and counts against health).
    public var requestTimeoutMilliseconds = 10_000
    /// Concurrent requests for one model version are batched up to this many rows.
    public var maxBatchRows = 64
    /// How long a worker waits for more requests to fill a batch (0: only those already queued).
    public var batchWaitMicroseconds = 0
    /// A request expected to take at most this long runs on its connection's event loop when a
    /// core is idle, instead of waking an engine thread (0: always on an engine thread).
    public var inlineMicroseconds = 200
    /// How long the history writer waits for the previous group's callers to come back before
    /// committing the next group (StoreOptions.maxGroupWaitMicroseconds; 0: never waits).
    public var groupCommitWaitMicroseconds = 100
    public var maxUploadBytes = 256 << 20
    /// Largest inference request body.
    public var maxRequestBytes = 64 << 20
    public var requireSignatures = false
    public var trustedKeysDirectory = "/etc/dlad/trusted-keys"
    /// Keep each request's input bytes in the history (they can be large).
    public var storeInputs = false
    public var retentionMaxRows: Int?
    public var retentionMaxAgeSeconds: Int?
    public var retentionMaxBytes: Int?
    /// What one model may ask of this box; a push or request beyond it is refused before
    /// anything is allocated (DLAResourceLimits, docs/EMULATOR.md).
    public var limits = DLAResourceLimits()
    /// Allows the test-only fault switches (`POST /v1/debug/freeze-engine`); never on in production.
    public var faultInjection = false

    public init() {}

    /// One setting: its file key, environment variable and how a text value is applied.
    public struct Setting: Sendable {
        public let key: String
        public let help: String
        /// The setting's current value, in the file's syntax when printed.
        let read: @Sendable (DaemonConfiguration) -> ConfigFile.Value
        let apply: @Sendable (inout DaemonConfiguration, ConfigFile.Value) throws(ConfigError) -> Void

        public var environmentVariable: String {
            "DLAD_" + key.uppercased().map { $0 == "." || $0 == "-" ? "_" : $0 }.map(String.init).joined()
        }
    }

    public static let settings: [Setting] = [
        string("state_dir", "Directory of the database and uploads.", read: { $0.stateDirectory }) { $0.stateDirectory = $1 },
        string("socket", "Path of the API's UNIX socket (when not socket-activated).", read: { $0.socketPath }) { $0.socketPath = $1 },
        string("socket_group", "Group owning the socket: its members may connect (empty: the daemon's group).", read: { $0.socketGroup ?? "" }) { $0.socketGroup = $1.isEmpty ? nil : $1 },
        integer("socket_mode", "Permission bits of the socket, octal digits (660).", 0...777, read: { Int(String($0.socketMode, radix: 8))! }) { config, value throws(ConfigError) in
            guard let mode = Int(String(value), radix: 8) else { throw ConfigError(path: "", line: 0, "socket_mode: \(value) is not octal") }
            config.socketMode = mode
        },
        string("admin_group", "Group whose members (and root) may push, activate, roll back and delete models.", read: { $0.adminGroup }) { $0.adminGroup = $1 },
        string("firmware_models", "Directory of shipped models seeded into an empty registry.", read: { $0.firmwareModels }) { $0.firmwareModels = $1 },
        Setting(key: "durability", help: "full: an acknowledged result survives a power cut; normal: a crash of dlad only.",
                read: { .string($0.durability.rawValue) }) { config, value throws(ConfigError) in
            guard case .string(let text) = value, let durability = Durability(rawValue: text) else {
                throw ConfigError(path: "", line: 0, "durability: expected \"full\" or \"normal\", got \(value)")
            }
            config.durability = durability
        },
        integer("engines", "Emulated DLA cores (engine worker threads).", 1...64, read: { $0.engines }) { $0.engines = $1 },
        string("profile", "Hardware profile every model must run on (empty: each model's own target).", read: { $0.profile ?? "" }) { $0.profile = $1.isEmpty ? nil : $1 },
        integer("queue_capacity", "Requests that may wait for an engine; beyond it 503.", 1...1_000_000, read: { $0.queueCapacity }) { $0.queueCapacity = $1 },
        integer("request_timeout_ms", "Deadline of one inference request in milliseconds.", 1...3_600_000, read: { $0.requestTimeoutMilliseconds }) { $0.requestTimeoutMilliseconds = $1 },
        integer("max_batch_rows", "Rows of concurrent requests for one model run as one batch.", 1...4096, read: { $0.maxBatchRows }) { $0.maxBatchRows = $1 },
        integer("batch_wait_us", "Microseconds a worker waits for more requests to fill a batch.", 0...100_000, read: { $0.batchWaitMicroseconds }) { $0.batchWaitMicroseconds = $1 },
        integer("group_commit_wait_us", "Microseconds the history writer waits for more rows to share one commit (0: never).", 0...100_000,
                read: { $0.groupCommitWaitMicroseconds }) { $0.groupCommitWaitMicroseconds = $1 },
        integer("inline_us", "Requests expected to take at most this many microseconds run on the event loop when a core is idle (0: never).", 0...10_000, read: { $0.inlineMicroseconds }) { $0.inlineMicroseconds = $1 },
        integer("max_upload_bytes", "Largest model push in bytes.", 1024...(1 << 40), read: { $0.maxUploadBytes }) { $0.maxUploadBytes = $1 },
        integer("max_request_bytes", "Largest inference request body in bytes.", 1024...(1 << 32), read: { $0.maxRequestBytes }) { $0.maxRequestBytes = $1 },
        boolean("require_signatures", "Refuse pushed models not signed by a trusted key.", read: { $0.requireSignatures }) { $0.requireSignatures = $1 },
        string("trusted_keys_dir", "Directory of trusted Ed25519 public keys (*.pub, from dlactl keygen).", read: { $0.trustedKeysDirectory }) { $0.trustedKeysDirectory = $1 },
        boolean("store_inputs", "Keep every request's input in the history.", read: { $0.storeInputs }) { $0.storeInputs = $1 },
        integer("retention.max_rows", "Keep at most this many history rows (0: no limit).", 0...Int.max, read: { $0.retentionMaxRows ?? 0 }) { $0.retentionMaxRows = $1 == 0 ? nil : $1 },
        integer("retention.max_age_seconds", "Delete history rows older than this (0: no limit).", 0...Int.max, read: { $0.retentionMaxAgeSeconds ?? 0 }) { $0.retentionMaxAgeSeconds = $1 == 0 ? nil : $1 },
        integer("retention.max_bytes", "Keep the database below about this many bytes (0: no limit).", 0...Int.max, read: { $0.retentionMaxBytes ?? 0 }) { $0.retentionMaxBytes = $1 == 0 ? nil : $1 },
        integer("limits.max_weight_bytes", "Largest decoded weights of one model in bytes.", 1...(1 << 40), read: { $0.limits.maxWeightBytes }) { $0.limits.maxWeightBytes = $1 },
        integer("limits.max_operations", "Most operations in one model.", 1...1_000_000, read: { $0.limits.maxOperations }) { $0.limits.maxOperations = $1 },
        integer("limits.max_activation_bytes", "Largest activations of one model for one request in bytes.", 1...(1 << 40), read: { $0.limits.maxActivationBytes }) { $0.limits.maxActivationBytes = $1 },
        integer("limits.max_batch_elements", "Most input elements in one request (rows × input size).", 1...(1 << 40), read: { $0.limits.maxBatchInputElements }) { $0.limits.maxBatchInputElements = $1 },
        boolean("fault_injection", "Allow test-only fault switches (never in production).", read: { $0.faultInjection }) { $0.faultInjection = $1 },
    ]

    private static func string(_ key: String, _ help: String, read: @escaping @Sendable (DaemonConfiguration) -> String,
                               _ set: @escaping @Sendable (inout DaemonConfiguration, String) -> Void) -> Setting {
        Setting(key: key, help: help, read: { .string(read($0)) }) { config, value throws(ConfigError) in
            guard case .string(let text) = value else { throw ConfigError(path: "", line: 0, "\(key): expected a quoted string, got \(value)") }
            set(&config, text)
        }
    }

    private static func integer(_ key: String, _ help: String, _ range: ClosedRange<Int>,
                                read: @escaping @Sendable (DaemonConfiguration) -> Int,
                                _ set: @escaping @Sendable (inout DaemonConfiguration, Int) throws(ConfigError) -> Void) -> Setting {
        Setting(key: key, help: help, read: { .integer(read($0)) }) { config, value throws(ConfigError) in
            guard case .integer(let number) = value else { throw ConfigError(path: "", line: 0, "\(key): expected an integer, got \(value)") }
            guard range.contains(number) else {
                throw ConfigError(path: "", line: 0, "\(key): \(number) is out of range (\(range.lowerBound)…\(range.upperBound))")
            }
            try set(&config, number)
        }
    }

    private static func boolean(_ key: String, _ help: String, read: @escaping @Sendable (DaemonConfiguration) -> Bool,
                                _ set: @escaping @Sendable (inout DaemonConfiguration, Bool) -> Void) -> Setting {
        Setting(key: key, help: help, read: { .boolean(read($0)) }) { config, value throws(ConfigError) in
            guard case .boolean(let flag) = value else { throw ConfigError(path: "", line: 0, "\(key): expected true or false, got \(value)") }
            set(&config, flag)
        }
    }

    /// Applies a parsed file; unknown keys are errors (a typo must not be silently ignored).
    public mutating func apply(file: ConfigFile, path: String) throws(ConfigError) {
        for key in file.entries.keys.sorted() {
            let line = file.line(of: key)
            guard let setting = Self.settings.first(where: { $0.key == key }) else {
                throw ConfigError(path: path, line: line, "unknown setting '\(key)' (known: \(Self.settings.map(\.key).joined(separator: ", ")))")
            }
            do {
                try setting.apply(&self, file[key]!)
            } catch {
                throw ConfigError(path: path, line: line, error.message)
            }
        }
    }

    /// Applies `DLAD_*` variables; unknown `DLAD_` names other than `DLAD_CONFIG` and `DLAD_SOCKET`
    /// users set for dlactl are ignored, since the environment is shared with other tools.
    public mutating func apply(environment: [String: String]) throws(ConfigError) {
        for setting in Self.settings {
            guard let text = environment[setting.environmentVariable] else { continue }
            try apply(setting, text: text, source: setting.environmentVariable)
        }
    }

    /// Applies `key=value` overrides (the daemon's `--set`), values written as in the file or bare.
    public mutating func apply(overrides: [String]) throws(ConfigError) {
        for override in overrides {
            guard let equals = override.firstIndex(of: "=") else {
                throw ConfigError(path: "", line: 0, "--set \(override): expected key=value")
            }
            let key = String(override[..<equals]).trimmingSpaces
            guard let setting = Self.settings.first(where: { $0.key == key }) else {
                throw ConfigError(path: "", line: 0, "--set: unknown setting '\(key)' (known: \(Self.settings.map(\.key).joined(separator: ", ")))")
            }
            try apply(setting, text: String(override[override.index(after: equals)...]), source: "--set \(key)")
        }
    }

    /// A value from the environment or a flag: a number, true/false, or else a string; a value
    /// written in TOML syntax ("…", […]) is parsed as TOML.
    private mutating func apply(_ setting: Setting, text: String, source: String) throws(ConfigError) {
        let trimmed = text.trimmingSpaces
        let value: ConfigFile.Value
        if trimmed.hasPrefix("\"") || trimmed.hasPrefix("'") || trimmed.hasPrefix("[") {
            do {
                let parsed = try ConfigFile(parsing: "v = " + trimmed, path: source)
                value = parsed["v"]!
            } catch {
                throw ConfigError(path: "", line: 0, "\(source): \(error.message)")
            }
        } else if let number = Int(trimmed.replacingUnderscores) {
            value = .integer(number)
        } else if trimmed == "true" || trimmed == "false" {
            value = .boolean(trimmed == "true")
        } else {
            value = .string(text)
        }
        do {
            try setting.apply(&self, Self.coerce(value, for: setting))
        } catch {
            throw ConfigError(path: "", line: 0, "\(source): \(error.message)")
        }
    }

    /// A bare value like `5` for a string setting (`socket_group = 5`) is meant as text.
    private static func coerce(_ value: ConfigFile.Value, for setting: Setting) -> ConfigFile.Value {
        var probe = DaemonConfiguration()
        if (try? setting.apply(&probe, value)) != nil { return value }
        switch value {
        case .integer(let number): return .string(String(number))
        case .boolean(let flag): return .string(String(flag))
        default: return value
        }
    }

    /// Loads the layers. `configPath` nil uses `defaultConfigPath` when it exists.
    public static func load(configPath: String?, environment: [String: String], overrides: [String],
                            readFile: (String) -> [UInt8]?) throws(ConfigError) -> (DaemonConfiguration, String?) {
        var config = DaemonConfiguration()
        var used: String?
        let path = configPath ?? environment["DLAD_CONFIG"]
        if let path {
            guard let bytes = readFile(path) else { throw ConfigError(path: path, line: 0, "cannot read the configuration file") }
            try config.apply(file: try ConfigFile(parsing: String(decoding: bytes, as: UTF8.self), path: path), path: path)
            used = path
        } else if let bytes = readFile(defaultConfigPath) {
            try config.apply(file: try ConfigFile(parsing: String(decoding: bytes, as: UTF8.self), path: defaultConfigPath), path: defaultConfigPath)
            used = defaultConfigPath
        }
        try config.apply(environment: environment)
        try config.apply(overrides: overrides)
        return (config, used)
    }

    public static let defaultConfigPath = "/etc/dlad/dlad.toml"

    /// A setting's current value in the file's syntax (`--print-config`); "?" for an unknown key.
    public func value(of key: String) -> String {
        Self.settings.first { $0.key == key }.map { $0.read(self).description } ?? "?"
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }

    fileprivate var replacingUnderscores: String { String(filter { $0 != "_" }) }
}
