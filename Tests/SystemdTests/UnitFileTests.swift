import Foundation
import Testing

/// The units in systemd/ pass `systemd-analyze verify` without a word and stay hardened
/// (exposure ≤ 1.0); sysusers and tmpfiles create what the units expect.
@Suite(.enabled(if: SystemTools.path("systemd-analyze") != nil,
                "systemd-analyze is absent: install Debian's systemd package (make deps does)"))
struct UnitFileTests {
    static let unitDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("systemd")

    struct Output {
        let status: Int32
        let text: String
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(SystemTools.path(tool), "\(tool) not found"))
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, text: String(decoding: data, as: UTF8.self))
    }

    static func scratchRoot() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("dlad-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    /// `verify` checks that ExecStart's binary exists, which /usr/bin/dlad does not on a build
    /// machine: verify in a scratch root holding the units, executable stand-ins for /usr/bin/dlad and
    /// /bin/kill (ExecReload) and a copy of the host's system units (for sysinit.target and the like).
    @Test func verifyIsClean() throws {
        let root = try Self.scratchRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let files = FileManager.default
        for directory in ["usr/bin", "bin", "usr/lib/systemd", "etc/systemd/system"] {
            try files.createDirectory(at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        for executable in ["usr/bin/dlad", "bin/kill"] {
            let stub = root.appendingPathComponent(executable)
            try "#!/bin/sh\nexit 0\n".write(to: stub, atomically: true, encoding: .utf8)
            try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stub.path)
        }
        let systemUnits = ["/usr/lib/systemd/system", "/lib/systemd/system"].first { files.fileExists(atPath: "\($0)/sysinit.target") }
        // A copy (about 1 MB), not a link: under --root an absolute link would point into the root.
        try files.copyItem(
            atPath: try #require(systemUnits, "no system units on this machine"),
            toPath: root.appendingPathComponent("usr/lib/systemd/system").path)
        for unit in ["dlad.service", "dlad.socket"] {
            try files.copyItem(
                at: Self.unitDirectory.appendingPathComponent(unit),
                to: root.appendingPathComponent("etc/systemd/system/\(unit)"))
        }
        // The manual pages the units name (Documentation=) exist once the package is installed; the
        // system test checks them there (packaging/system-test/checks.sh).
        let verify = try Self.run("systemd-analyze", ["verify", "--man=no", "--root=\(root.path)", "dlad.service", "dlad.socket"])
        #expect(verify.status == 0 && verify.text.isEmpty, "systemd-analyze verify:\n\(verify.text)")
    }

    @Test func verifyCatchesAMistakeInTheseUnits() throws {
        // The check above could pass by looking at nothing; a misspelt key must be reported.
        let root = try Self.scratchRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let unit = root.appendingPathComponent("dlad-broken.service")
        let text = try String(contentsOf: Self.unitDirectory.appendingPathComponent("dlad.service"), encoding: .utf8)
        try text.replacingOccurrences(of: "WatchdogSec=", with: "WatchdogSecs=").write(to: unit, atomically: true, encoding: .utf8)
        let verify = try Self.run("systemd-analyze", ["verify", unit.path])
        #expect(verify.text.contains("Unknown key 'WatchdogSecs'"), "\(verify.text)")
    }

    @Test func exposureIsAtMostOne() throws {
        let service = Self.unitDirectory.appendingPathComponent("dlad.service").path
        let security = try Self.run("systemd-analyze", ["security", "--offline=true", "--no-pager", service])
        let line = try #require(
            security.text.split(separator: "\n").first { $0.contains("Overall exposure level for dlad.service:") },
            "no exposure in:\n\(security.text)")
        let figure = line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        let exposure = try #require(figure, "cannot read the exposure in: \(line)")
        #expect(exposure <= 1.0, "\(line)")
    }

    @Test func sysusersAndTmpfilesCreateTheUserGroupsAndDirectories() throws {
        let root = try Self.scratchRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
        let sysusers = try Self.run("systemd-sysusers", ["--root=\(root.path)", Self.unitDirectory.appendingPathComponent("dlad.sysusers").path])
        #expect(sysusers.status == 0, "\(sysusers.text)")
        let passwd = try String(contentsOf: root.appendingPathComponent("etc/passwd"), encoding: .utf8)
        let group = try String(contentsOf: root.appendingPathComponent("etc/group"), encoding: .utf8)
        let user = try #require(passwd.split(separator: "\n").first { $0.hasPrefix("dlad:") }).split(separator: ":", omittingEmptySubsequences: false)
        #expect(user[5] == "/var/lib/dlad" && user[6] == "/usr/sbin/nologin")
        let groups = Dictionary(uniqueKeysWithValues: group.split(separator: "\n").map {
            let fields = $0.split(separator: ":", omittingEmptySubsequences: false)
            return (String(fields[0]), String(fields[2]))
        })
        #expect(groups["dlad"] == String(user[3]), "the dlad user's primary group is dlad")
        #expect(groups["dlad-admin"] != nil)

        let tmpfiles = try Self.run("systemd-tmpfiles", ["--root=\(root.path)", "--create", Self.unitDirectory.appendingPathComponent("dlad.tmpfiles").path])
        #expect(tmpfiles.status == 0, "\(tmpfiles.text)")
        for (directory, mode) in [("run/dlad", 0o755), ("var/lib/dlad", 0o750)] {
            let attributes = try FileManager.default.attributesOfItem(atPath: root.appendingPathComponent(directory).path)
            #expect((attributes[.posixPermissions] as? Int) == mode, "\(directory)")
            #expect((attributes[.ownerAccountID] as? Int).map(String.init) == String(user[2]), "\(directory) owned by dlad")
        }
    }
}

/// Programs found on `$PATH` (or in /usr/bin, /bin).
enum SystemTools {
    static func path(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return (path.split(separator: ":") + ["/usr/bin", "/bin"]).map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
