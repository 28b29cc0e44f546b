#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import DLADaemon
import Testing

@Suite struct ConfigurationTests {
    @Test func layersApplyInOrderFileEnvironmentFlags() throws {
        let file = """
            # dlad
            state_dir = "/srv/dlad"   # trailing comment
            engines = 4
            require_signatures = true
            socket_mode = 640

            [retention]
            max_rows = 1_000_000
            """
        let (config, used) = try DaemonConfiguration.load(
            configPath: "/etc/x.toml", environment: ["DLAD_ENGINES": "3", "DLAD_SOCKET": "/tmp/s.sock", "DLAD_UNRELATED": "x"],
            overrides: ["engines=2", "profile=nv_small"], readFile: { $0 == "/etc/x.toml" ? Array(file.utf8) : nil })
        #expect(used == "/etc/x.toml")
        #expect(config.stateDirectory == "/srv/dlad")
        #expect(config.engines == 2)
        #expect(config.socketPath == "/tmp/s.sock")
        #expect(config.requireSignatures)
        #expect(config.socketMode == 0o640)
        #expect(config.retentionMaxRows == 1_000_000)
        #expect(config.profile == "nv_small")
        #expect(config.adminGroup == "dlad-admin")
    }

    @Test func theDefaultFileIsOptionalAnExplicitOneIsNot() throws {
        let (config, used) = try DaemonConfiguration.load(configPath: nil, environment: [:], overrides: [], readFile: { _ in nil })
        #expect(used == nil && config == DaemonConfiguration())
        #expect(throws: ConfigError.self) {
            try DaemonConfiguration.load(configPath: "/missing.toml", environment: [:], overrides: [], readFile: { _ in nil })
        }
    }

    @Test(arguments: [
        ("engines = 0", "dlad.toml:1: engines: 0 is out of range"),
        ("engnes = 2", "dlad.toml:1: unknown setting 'engnes'"),
        ("engines = \"two\"", "dlad.toml:1: engines: expected an integer"),
        ("durability = \"sometimes\"", "durability: expected \"full\" or \"normal\""),
        ("state_dir = \"/a\nstate_dir = \"/b\"", "dlad.toml:1:16: unterminated string"),
        ("state_dir = \"/a\"\nstate_dir = \"/b\"", "dlad.toml:2: 'state_dir' is already set on line 1"),
        ("[retention\nmax_rows = 1", "dlad.toml:1:11: expected ']'"),
        ("engines = 2 3", "dlad.toml:1:13: unexpected text after the value"),
        ("socket_mode = 999", "socket_mode: 999 is out of range"),
    ])
    func mistakesNameFileLineAndReason(text: String, message: String) {
        do throws(ConfigError) {
            var config = DaemonConfiguration()
            try config.apply(file: try ConfigFile(parsing: text, path: "dlad.toml"), path: "dlad.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(message) || error.description.contains(message), "\(error)")
        }
    }

    @Test func environmentAndFlagMistakesNameTheirSource() {
        #expect(throws: ConfigError.self) { try DaemonConfiguration.load(configPath: nil, environment: ["DLAD_ENGINES": "many"], overrides: [], readFile: { _ in nil }) }
        do throws(ConfigError) {
            _ = try DaemonConfiguration.load(configPath: nil, environment: [:], overrides: ["queue_capacity=-1"], readFile: { _ in nil })
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("--set queue_capacity"))
        }
    }

    @Test func printedValuesParseBackToTheSameConfiguration() throws {
        var config = DaemonConfiguration()
        config.engines = 5
        config.socketGroup = nil
        config.retentionMaxAgeSeconds = 86_400
        config.durability = .normal
        let text = DaemonConfiguration.settings.map { "\($0.key) = \(config.value(of: $0.key))" }
        var reread = DaemonConfiguration()
        try reread.apply(file: try ConfigFile(parsing: text.filter { !$0.hasPrefix("retention.") }.joined(separator: "\n")
                                                + "\n[retention]\n" + text.filter { $0.hasPrefix("retention.") }.map { String($0.dropFirst(10)) }.joined(separator: "\n"),
                                              path: "printed"), path: "printed")
        #expect(reread == config)
    }

    /// docs/DAEMON.md lists every setting with its variable and default, as the code has them.
    @Test func theDocumentedTableMatchesTheSettings() throws {
        let path = APITestBed.repository + "/docs/DAEMON.md"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let defaults = DaemonConfiguration()
        for setting in DaemonConfiguration.settings {
            let row = "| `\(setting.key)` | `\(setting.environmentVariable)` | `\(defaults.value(of: setting.key))` | \(setting.help) |"
            #expect(text.contains(row), "docs/DAEMON.md lacks: \(row)")
        }
    }

    @Test func rfc3339FormatsAndParsesBack() {
        for micros: Int64 in [0, 1, 951_782_400_000_000, 1_796_624_832_123_456, -86_400_000_001] {
            let date = Date(timeIntervalSince1970: Double(micros) / 1e6)
            let text = RFC3339.format(date)
            #expect(RFC3339.parse(text).map { Int64(($0.timeIntervalSince1970 * 1e6).rounded()) } == micros, "\(text)")
        }
        #expect(RFC3339.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000000Z")
        #expect(RFC3339.parse("2000-02-29T02:00:00+02:00") == Date(timeIntervalSince1970: 951_782_400))
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(RFC3339.parse("1h", now: now) == Date(timeIntervalSince1970: 1_000_000 - 3600))
        #expect(RFC3339.parse("2000-13-01T00:00:00Z") == nil)
        #expect(RFC3339.parse("soon") == nil)
        #expect(RFC3339.parse("99999999999s", now: now) == Date(timeIntervalSince1970: 1_000_000 - 99_999_999_999))
        for tooFar in ["1099511627775d", "1099511627775h", "1099511627775m", "100000000000s", "1e11", "-1e11"] {
            #expect(RFC3339.parse(tooFar, now: now) == nil, "\(tooFar)")
        }
    }
}
