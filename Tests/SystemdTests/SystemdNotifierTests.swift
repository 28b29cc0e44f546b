import Foundation
import Testing
@testable import Systemd

@Suite struct SystemdNotifierTests {
    @Test func readyAndStatusArriveInOneDatagram() async throws {
        let listener = try NotifyListener()
        try SystemdNotifier(socketPath: listener.path).notify(.ready, .status("serving 4 models, 1,234 inferences, queue 0"))
        let message = try await listener.receive(within: .seconds(2))
        #expect(message == "READY=1\nSTATUS=serving 4 models, 1,234 inferences, queue 0")
    }

    @Test func everyStateHasSystemdsAssignment() async throws {
        let listener = try NotifyListener()
        let notifier = SystemdNotifier(socketPath: listener.path)
        let expected: [(NotifyState, String)] = [
            (.ready, "READY=1"), (.reloading, "RELOADING=1"), (.stopping, "STOPPING=1"),
            (.watchdog, "WATCHDOG=1"), (.status("loading"), "STATUS=loading"),
            (.extendTimeout(.seconds(90)), "EXTEND_TIMEOUT_USEC=90000000"),
            (.extendTimeout(.milliseconds(1500)), "EXTEND_TIMEOUT_USEC=1500000"),
            (.extendTimeout(.seconds(-1)), "EXTEND_TIMEOUT_USEC=0"),
            (.errno(ENOSPC), "ERRNO=\(ENOSPC)"), (.mainPID(4242), "MAINPID=4242"),
        ]
        for (state, assignment) in expected {
            try notifier.notify(state)
            #expect(try await listener.receive(within: .seconds(2)) == assignment)
        }
    }

    @Test func aStatusCannotSmuggleInAnotherAssignment() {
        #expect(NotifyState.status("loading\nREADY=1").assignment == "STATUS=loading READY=1")
    }

    @Test func withoutASocketNothingIsSentAndNothingFails() throws {
        let notifier = SystemdNotifier(socketPath: nil)
        #expect(!notifier.isEnabled)
        try notifier.notify(.ready, .watchdog)
        #expect(!SystemdNotifier(socketPath: "").isEnabled)
    }

    @Test func aMissingSocketIsAnErrorThatNamesIt() {
        let path = "/tmp/dlad-notify-missing-\(UUID().uuidString.prefix(8)).sock"
        #expect(throws: SystemdError.notifyFailed(socketPath: path, errno: ENOENT)) {
            try SystemdNotifier(socketPath: path).notify(.ready)
        }
    }

    @Test func aPathTooLongForSockaddrIsRefused() {
        let path = "/tmp/" + String(repeating: "x", count: 200)
        #expect(throws: SystemdError.notifySocketPathTooLong(path)) {
            try SystemdNotifier(socketPath: path).notify(.ready)
        }
    }

    /// systemd passes `@name` for a socket in the abstract namespace.
    @Test func abstractNamespaceSocket() async throws {
        let name = "dlad-notify-\(UUID().uuidString.prefix(8))"
        let receiver = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(receiver) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8(0)] + Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, length) }
        }
        try #require(bound == 0)
        try SystemdNotifier(socketPath: "@" + name).notify(.stopping)
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { recv(receiver, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        #expect(count > 0 && String(decoding: buffer[..<count], as: UTF8.self) == "STOPPING=1")
    }
}
