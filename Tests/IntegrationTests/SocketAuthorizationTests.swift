import Foundation
import Testing

/// Who may connect and who may change models, with real users: the test runs as root, creates
/// a user and two groups, and runs dlactl as that user with setpriv (dropped privileges).
@Suite(.serialized) struct SocketAuthorizationTests {
    static let user = "dlad-it-user"
    static let socketGroup = "dlad-it-sock"
    static let adminGroup = "dlad-it-admin"

    /// Creates the user and groups once (idempotent); nil when not root or the tools are missing.
    static func prepare() throws -> (uid: UInt32, socketGID: UInt32, adminGID: UInt32)? {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
              FileManager.default.isExecutableFile(atPath: "/usr/sbin/useradd") else { return nil }
        for group in [socketGroup, adminGroup] where getgrnam(group) == nil {
            _ = try Executables.runTool("/usr/sbin/groupadd", ["--system", group])
        }
        if getpwnam(user) == nil {
            _ = try Executables.runTool("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user])
        }
        // getpwnam/getgrnam return static storage: read each answer before the next call.
        guard let uid = getpwnam(user)?.pointee.pw_uid, let socketGID = getgrnam(socketGroup)?.pointee.gr_gid,
              let adminGID = getgrnam(adminGroup)?.pointee.gr_gid else { return nil }
        return (uid, socketGID, adminGID)
    }

    /// dlactl as the test user with exactly `groups` as its supplementary groups.
    static func dlactl(_ arguments: [String], uid: UInt32, groups: [UInt32], socket: String) throws -> Executables.Result {
        let groupList = groups.isEmpty ? ["--clear-groups"] : ["--groups=" + groups.map(String.init).joined(separator: ",")]
        return try Executables.runTool("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(uid)"] + groupList + ["--", try Executables.path(of: "dlactl")] + arguments,
                                       environment: ["DLAD_SOCKET": socket, "PATH": "/usr/bin:/bin"])
    }

    @Test func membersInferAdminsPushOthersCannotConnect() throws {
        guard let ids = try Self.prepare() else {
            Issue.record("needs root, setpriv and useradd (CI runs as root)")
            return
        }
        let directory = try TemporaryDirectory()
        // The binaries and the samples must be readable by the unprivileged user.
        chmod(directory.path, 0o755)
        let daemon = try RunningDaemon(directory: directory, extra: ["--set", "socket_group=\"\(Self.socketGroup)\"", "--set", "admin_group=\"\(Self.adminGroup)\""])
        var status = stat()
        #expect(stat(daemon.socket, &status) == 0 && status.st_mode & 0o777 == 0o660 && status.st_gid == ids.socketGID)

        let sample = directory.file("x.npy")
        try FileManager.default.copyItem(atPath: FirmwareModelsPath.sampleInputs, toPath: sample)
        chmod(sample, 0o644)
        let model = directory.file("m.dla")
        try FileManager.default.copyItem(atPath: FirmwareModelsPath.directory + "/lenet-5-int8.dla", toPath: model)
        chmod(model, 0o644)

        let member = try Self.dlactl(["infer", "lenet-300-100", "--input", sample], uid: ids.uid, groups: [ids.socketGID], socket: daemon.socket)
        #expect(member.status == 0 && member.stdout.contains("lenet-300-100 v1: inference"), "\(member.stderr)")
        let forbidden = try Self.dlactl(["push", model, "--name", "mine"], uid: ids.uid, groups: [ids.socketGID], socket: daemon.socket)
        #expect(forbidden.status == 1 && forbidden.stderr == "error: uid \(ids.uid) may not change models (root or members of the admin group may)\n")
        let admin = try Self.dlactl(["push", model, "--name", "mine", "--activate"], uid: ids.uid, groups: [ids.socketGID, ids.adminGID], socket: daemon.socket)
        #expect(admin.status == 0 && admin.stdout.contains("mine: pushed as v1, active"), "\(admin.stderr)")
        let outsider = try Self.dlactl(["models"], uid: ids.uid, groups: [], socket: daemon.socket)
        #expect(outsider.status == 1 && outsider.stderr.contains("Permission denied"), "\(outsider.stderr)")

        let history = try Executables.run("dlactl", ["history", "--json"], environment: ["DLAD_SOCKET": daemon.socket])
        #expect(history.stdout.contains("\"clientUid\" : \(ids.uid)"), "\(history.stdout)")
        daemon.stop()
    }
}
