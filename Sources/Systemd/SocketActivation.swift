#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSystemd

/// A file descriptor systemd passed at start (socket activation), with the name from the socket
/// unit's `FileDescriptorName=` ("unknown" when it set none).
public struct PassedFileDescriptor: Sendable, Equatable {
    public let fileDescriptor: Int32
    public let name: String

    public init(fileDescriptor: Int32, name: String) {
        self.fileDescriptor = fileDescriptor
        self.name = name
    }
}

/// Socket activation: the sockets a `.socket` unit bound and passed from fd 3 on.
public enum SocketActivation {
    /// `sd_listen_fds_with_names`: the passed descriptors (close-on-exec from now on), or none when
    /// not socket-activated (or `$LISTEN_PID` names another process). It unsets `$LISTEN_FDS`,
    /// `$LISTEN_PID` and `$LISTEN_FDNAMES`, so that a child never adopts them: call it once.
    public static func passedFileDescriptors() throws(SystemdError) -> [PassedFileDescriptor] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count >= 0 else { throw .invalidListenEnvironment(errno: -count) }
        defer {
            if let names {
                for index in 0..<Int(count) { free(names[index]) }
                free(names)
            }
        }
        return (0..<count).map { index in
            let name = names?[Int(index)].map { String(cString: $0) } ?? "unknown"
            return PassedFileDescriptor(fileDescriptor: SD_LISTEN_FDS_START + index, name: name)
        }
    }

    /// The passed descriptor with this name that is a listening UNIX stream socket, if any.
    public static func listeningUNIXSocket(named name: String, in passed: [PassedFileDescriptor]) -> Int32? {
        passed.first { descriptor in
            descriptor.name == name && sd_is_socket_unix(descriptor.fileDescriptor, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0
        }?.fileDescriptor
    }
}
