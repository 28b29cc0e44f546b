#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
// SOCK_DGRAM and SOCK_CLOEXEC: <sys/socket.h>, which release builds see through libsystemd's headers.
import CSystemd

/// Sends notifications to the service manager over the datagram socket it named in
/// `$NOTIFY_SOCKET`, exactly as `sd_notify(0, …)` does. It speaks the protocol itself because
/// libsystemd's `sd_notify` only reads the environment: an explicit socket path lets tests
/// listen on a socket of their own without changing the test process's environment.
/// Without a socket (not started by systemd) every notification is a no-op.
public struct SystemdNotifier: Sendable {
    /// A filesystem path, or `@name` for the abstract namespace; nil when not under systemd.
    public let socketPath: String?

    public init(socketPath: String?) {
        self.socketPath = socketPath.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The notifier for `$NOTIFY_SOCKET`; a no-op when it is unset.
    public static func fromEnvironment() -> SystemdNotifier {
        SystemdNotifier(socketPath: getenv("NOTIFY_SOCKET").map { String(cString: $0) })
    }

    /// Whether notifications go anywhere.
    public var isEnabled: Bool { socketPath != nil }

    public func notify(_ states: NotifyState...) throws(SystemdError) {
        try notify(states)
    }

    /// Sends all assignments in one datagram, so systemd applies them together
    /// (for instance READY=1 with its STATUS=).
    public func notify(_ states: [NotifyState]) throws(SystemdError) {
        guard let socketPath, !states.isEmpty else { return }
        let message = states.map(\.assignment).joined(separator: "\n")
        try Self.send(Array(message.utf8), to: socketPath)
    }

    private static func send(_ message: [UInt8], to path: String) throws(SystemdError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(path.utf8)
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A filesystem path needs its terminating NUL; an abstract name is counted exactly.
        guard pathBytes.count + (abstract ? 0 : 1) <= capacity else { throw .notifySocketPathTooLong(path) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathBytes.count + (abstract ? 0 : 1))

        let socketFD = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketFD >= 0 else { throw .notifyFailed(socketPath: path, errno: errno) }
        defer { close(socketFD) }
        let sent = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    sendto(socketFD, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, length)
                }
            }
        }
        guard sent == message.count else { throw .notifyFailed(socketPath: path, errno: sent < 0 ? errno : EMSGSIZE) }
    }
}
