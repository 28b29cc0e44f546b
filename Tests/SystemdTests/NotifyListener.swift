import Foundation

/// A real AF_UNIX datagram socket standing in for systemd's `$NOTIFY_SOCKET`. Receives without
/// blocking a thread of the cooperative pool, which the pinger under test needs.
final class NotifyListener {
    let path: String
    private let descriptor: Int32

    init() throws {
        path = "/tmp/dlad-notify-\(UUID().uuidString.prefix(8)).sock"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            close(descriptor)
            throw POSIXError(.init(rawValue: errno)!)
        }
    }

    deinit {
        close(descriptor)
        unlink(path)
    }

    /// The next datagram, or nil when none arrives within the timeout.
    func receive(within timeout: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let message = receiveNow() { return message }
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Every datagram that arrives until the deadline.
    func collect(for duration: Duration) async throws -> [String] {
        let deadline = ContinuousClock.now + duration
        var messages: [String] = []
        while ContinuousClock.now < deadline {
            while let message = receiveNow() { messages.append(message) }
            try await Task.sleep(for: .milliseconds(5))
        }
        while let message = receiveNow() { messages.append(message) }
        return messages
    }

    private func receiveNow() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
