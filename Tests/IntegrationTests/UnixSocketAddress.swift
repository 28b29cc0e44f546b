import Foundation

/// `bind` or `connect` of a socket to a filesystem path, for the tests that speak raw bytes or
/// stand in for a peer (paths here are short temporary ones).
enum UnixSocketAddress {
    static func bind(_ fd: Int32, to path: String) -> Bool {
        with(path) { Foundation.bind(fd, $0, $1) } == 0
    }

    static func connect(_ fd: Int32, to path: String) -> Bool {
        with(path) { Foundation.connect(fd, $0, $1) } == 0
    }

    private static func with(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
