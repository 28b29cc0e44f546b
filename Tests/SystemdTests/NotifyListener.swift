import Foundation
import Synchronization

/// A real AF_UNIX datagram socket standing in for systemd's `$NOTIFY_SOCKET`. Receives without
/// blocking a thread of the cooperative pool, which the pinger under test needs.
final class NotifyListener: @unchecked Sendable {
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

    /// A datagram and when it arrived.
    struct Arrival: Sendable {
        let time: ContinuousClock.Instant
        let message: String
    }

    /// Datagrams received on a thread of their own, each stamped as it arrives. The thread starts
    /// at once, not when the cooperative pool gets round to it, so the stamps stay true however
    /// busy the pool is (the rest of the suite runs CPU-heavy tests on it in parallel).
    final class Recording: Sendable {
        private let state = Mutex<(arrivals: [Arrival], done: Bool)>(([], false))

        fileprivate func append(_ arrival: Arrival) { state.withLock { $0.arrivals.append(arrival) } }
        fileprivate func finish() { state.withLock { $0.done = true } }

        /// Everything received, once `last` matched or the timeout passed.
        func arrivals() async throws -> [Arrival] {
            while !state.withLock({ $0.done }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            return state.withLock { $0.arrivals }
        }
    }

    /// Starts recording until a datagram matches `last` or the timeout passes.
    func record(until last: @escaping @Sendable (String) -> Bool, timeout: Duration) -> Recording {
        let recording = Recording()
        Thread { [self] in
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 50) > 0, let message = receiveNow() else { continue }
                recording.append(Arrival(time: .now, message: message))
                if last(message) { break }
            }
            recording.finish()
        }.start()
        return recording
    }

    private func receiveNow() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
