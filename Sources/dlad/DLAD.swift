import ArgumentParser
import DLAAPI
import DLADaemon
import DLAStore
import Logging
import Systemd
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `dlad`: the inference daemon. Serves the socket API until SIGINT/SIGTERM; SIGHUP reloads.
struct DLAD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlad",
        abstract: "The dlad edge inference daemon: an HTTP/1.1 + JSON API on a UNIX socket over an emulated NVDLA.",
        discussion: """
            Opens (creating it if needed) the state directory and its SQLite database, seeds the \
            firmware models into an empty registry (and activates them), then serves /v1/... on \
            the socket until SIGINT or SIGTERM, which stop accepting, finish requests in flight, \
            flush the history and exit 0. SIGHUP reloads the configuration's reloadable settings \
            and the trusted keys.

            Settings come from the TOML file (/etc/dlad/dlad.toml when it exists, or --config), \
            then DLAD_* environment variables (DLAD_STATE_DIR, DLAD_SOCKET, DLAD_ENGINES, …), \
            then flags; every setting can be given as --set key=value. The commented \
            /etc/dlad/dlad.toml of the package and docs/DAEMON.md list them all; \
            --print-config shows the result.
            """,
        version: DaemonVersion.current
    )

    @Option(help: ArgumentHelp("TOML configuration file (default: /etc/dlad/dlad.toml when it exists).", valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("Directory of the database and uploads (state_dir).", valueName: "dir"))
    var stateDir: String?

    @Option(help: ArgumentHelp("Path of the API's UNIX socket (socket).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Directory of shipped models seeded into the registry (firmware_models).", valueName: "dir"))
    var firmwareModels: String?

    @Option(help: "full: an acknowledged result survives a power cut; normal: a crash of dlad only (durability).")
    var durability: String?

    @Option(help: ArgumentHelp("Emulated DLA cores, each an engine thread (engines).", valueName: "n"))
    var engines: Int?

    @Option(name: .customLong("set"), help: ArgumentHelp("Any setting, as in the file (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Flag(help: "Print the effective configuration and exit.")
    var printConfig = false

    @Flag(help: "Seed the firmware models, list the registry and exit without serving.")
    var once = false

    func run() async throws {
        #if canImport(Glibc)
        MallocPolicy.apply()
        #endif
        let signals = ProcessSignals()
        LoggingSystem.bootstrap { JournalLogHandler(label: $0, identifier: "dlad") }
        let logger = Logger(label: "dlad")
        let notifier = SystemdNotifier.fromEnvironment()
        let configuration = try loadConfiguration()
        if printConfig {
            for setting in DaemonConfiguration.settings {
                print("\(setting.key) = \(configuration.value(of: setting.key))")
            }
            return
        }
        if once {
            try await seedOnce(configuration)
            return
        }
        let daemon: Daemon
        do {
            try? notifier.notify(.status("starting: opening the state and the registry"), .extendTimeout(.seconds(120)))
            daemon = try await Daemon.start(configuration, inheritedSocket: try Self.activatedSocket(), logger: logger)
        } catch {
            try? notifier.notify(.status("failed to start: \(error)"), .errno(EINVAL))
            throw RuntimeError("\(error)")
        }
        let supervision = Supervision(notifier: notifier, daemon: daemon, logger: logger)
        await supervision.ready()
        switch daemon.server.source {
        case .inheritedDescriptor(let descriptor):
            say("serving on the socket passed by systemd (fd \(descriptor)) (state \(configuration.stateDirectory), \(configuration.engines) engine cores)")
        case .path(let path, _, _):
            say("serving on \(path) (state \(configuration.stateDirectory), \(configuration.engines) engine cores)")
        }
        for await signal in signals.events {
            if signal == .hangUp {
                supervision.reloading()
                do {
                    try daemon.reload(try loadConfiguration())
                } catch {
                    logger.error("reload refused, keeping the running configuration: \(error)")
                }
                await supervision.reloaded()
                continue
            }
            say("received \(signal.rawValue), shutting down")
            break
        }
        supervision.stopping()
        await daemon.shutdown()
        say("stopped")
    }

    /// The listening socket systemd passed (`dlad.socket`, FileDescriptorName=dlad.sock), if any.
    private static func activatedSocket() throws -> Int32? {
        let passed: [PassedFileDescriptor]
        do {
            passed = try SocketActivation.passedFileDescriptors()
        } catch {
            throw RuntimeError("socket activation: \(error)")
        }
        guard !passed.isEmpty else { return nil }
        guard let descriptor = SocketActivation.listeningUNIXSocket(named: "dlad.sock", in: passed) else {
            throw RuntimeError("socket activation: systemd passed \(passed.map { "\($0.name) (fd \($0.fileDescriptor))" }.joined(separator: ", ")), but no listening UNIX socket named dlad.sock")
        }
        return descriptor
    }

    private func loadConfiguration() throws -> DaemonConfiguration {
        var flags = overrides
        if let stateDir { flags.append("state_dir=\"\(escape(stateDir))\"") }
        if let socket { flags.append("socket=\"\(escape(socket))\"") }
        if let firmwareModels { flags.append("firmware_models=\"\(escape(firmwareModels))\"") }
        if let durability { flags.append("durability=\"\(escape(durability))\"") }
        if let engines { flags.append("engines=\(engines)") }
        do {
            return try DaemonConfiguration.load(
                configPath: config, environment: ProcessInfo.processInfo.environment, overrides: flags,
                readFile: { path in FileManager.default.contents(atPath: path).map { [UInt8]($0) } }).0
        } catch {
            throw RuntimeError(error.description)
        }
    }

    private func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "\\" || character == "\"" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// The offline path: state, store and firmware seeding, no socket.
    private func seedOnce(_ configuration: DaemonConfiguration) async throws {
        let state: StateDirectory
        do {
            state = try StateDirectory.prepare(configuration.stateDirectory)
        } catch {
            throw RuntimeError(error.description)
        }
        var options = StoreOptions()
        options.durability = configuration.durability == .full ? .full : .normal
        let store: DLAStore
        do {
            store = try await DLAStore.open(path: state.databasePath, options: options)
        } catch {
            throw RuntimeError("cannot open the database: \(error)")
        }
        let report = await FirmwareSeeder(directory: configuration.firmwareModels, store: store, uid: getuid()).seed()
        for outcome in report.outcomes {
            let what = outcome.action == .added ? "added" : "present"
            say("firmware \(outcome.model) v\(outcome.version) \(what)\(outcome.activated ? ", activated" : "") (\(outcome.file))")
        }
        for failure in report.failures { say("firmware refused: \(failure)") }
        do {
            for model in try await store.registry.models() {
                say("model \(model.name): \(model.versionCount) version(s), active \(model.activeVersion.map { "v\($0)" } ?? "none")")
            }
        } catch {
            throw RuntimeError("cannot list models: \(error)")
        }
        await store.close()
    }

    /// One line per event, written straight to file descriptor 1: `print` buffers when stdout is
    /// a pipe (journald, a test), and a daemon's status must show up when it happens.
    private func say(_ message: String) {
        var bytes = Array("dlad: \(message)\n".utf8)
        _ = write(1, &bytes, bytes.count)
    }
}

/// Usage errors keep ArgumentParser's message and exit code (64); a runtime error is one
/// `error:` line on stderr and exit code 1, as with `dlactl`, so that journald shows one line.
@main
enum DLADMain {
    static func main() async {
        var command: ParsableCommand
        do {
            command = try DLAD.parseAsRoot()
        } catch {
            DLAD.exit(withError: error)
        }
        do {
            // `--help` parses to ArgumentParser's synchronous help command.
            if var daemon = command as? AsyncParsableCommand {
                try await daemon.run()
            } else {
                try command.run()
            }
        } catch {
            if DLAD.exitCode(for: error) == .success || error is ExitCode { DLAD.exit(withError: error) }
            let message = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            var bytes = Array("error: \(message)\n".utf8)
            _ = write(2, &bytes, bytes.count)
            exit(1)
        }
    }
}

struct RuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
