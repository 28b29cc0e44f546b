#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore
import NIOHTTP1
import NIOPosix

/// Where the API listens: a path dlad binds itself, or a listening socket handed over by systemd.
public enum ListenSource: Sendable, Equatable {
    case path(String, mode: Int, group: UInt32?)
    case inheritedDescriptor(Int32)
}

public struct ServerError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The HTTP/1.1 server on a UNIX stream socket, on SwiftNIO (docs/ARCHITECTURE.md says why).
public final class HTTPServer: Sendable {
    private let channel: any Channel
    public let source: ListenSource

    private init(channel: any Channel, source: ListenSource) {
        self.channel = channel
        self.source = source
    }

    /// Starts listening. A stale socket file (nothing accepts on it) is replaced; a live one is
    /// an error, so that two daemons never share a path.
    public static func start(api: DaemonAPI, source: ListenSource, group: any EventLoopGroup) async throws -> HTTPServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                PeerCredentials.read(channel).flatMapThrowing { peer in
                    try HTTPConnectionHandler.configure(channel.pipeline.syncOperations, api: api, peer: peer)
                }
            }
        let channel: any Channel
        switch source {
        case .path(let path, let mode, let socketGroup):
            try refuseLiveSocket(at: path)
            // The socket file is created with the umask's bits: make them the final ones from the
            // start, so that it is never more open than configured, not even for a moment.
            let previous = umask(mode_t(0o777 & ~mode))
            defer { umask(previous) }
            do {
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            } catch {
                throw ServerError("cannot listen on \(path): \(error)")
            }
            if let socketGroup, chown(path, uid_t.max, socketGroup) != 0 {
                let reason = String(cString: strerror(errno))
                try? await channel.close()
                throw ServerError("cannot give the socket \(path) to group \(socketGroup): \(reason)")
            }
            guard chmod(path, mode_t(mode)) == 0 else {
                let reason = String(cString: strerror(errno))
                try? await channel.close()
                throw ServerError("cannot set the mode of \(path): \(reason)")
            }
        case .inheritedDescriptor(let descriptor):
            do {
                channel = try await bootstrap.withBoundSocket(descriptor).get()
            } catch {
                throw ServerError("cannot serve on the socket passed by systemd (fd \(descriptor)): \(error)")
            }
        }
        return HTTPServer(channel: channel, source: source)
    }

    /// Stops accepting; connections already open finish their current request.
    public func stopAccepting() async {
        try? await channel.close()
        if case .path(let path, _, _) = source { unlink(path) }
    }

    /// Fails when something answers on `path` (another daemon).
    private static func refuseLiveSocket(at path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw ServerError("cannot listen on \(path): a file that is not a socket is in the way")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ServerError("socket path \(path) is too long (\(bytes.count) bytes; at most \(MemoryLayout.size(ofValue: address.sun_path) - 1))")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if connected == 0 {
            throw ServerError("another process is already serving on \(path)")
        }
    }
}
