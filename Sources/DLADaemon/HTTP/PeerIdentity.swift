#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore

/// Who is on the other end of a UNIX socket connection, as the kernel saw it at connect time.
public struct PeerIdentity: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups of the connecting process (SO_PEERGROUPS); nil when unknown.
    public var groups: [UInt32]?

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32]?) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// The identity of this process (in-process tests and the embedded channel).
    public static var current: PeerIdentity {
        var groups = [gid_t](repeating: 0, count: 256)
        let count = getgroups(Int32(groups.count), &groups)
        return PeerIdentity(pid: getpid(), uid: getuid(), gid: getgid(), groups: count >= 0 ? Array(groups.prefix(Int(count))) : nil)
    }

    public func isMember(of group: UInt32) -> Bool {
        gid == group || (groups?.contains(group) ?? false)
    }
}

/// Glibc hides `struct ucred` without `_GNU_SOURCE`: the same 12 bytes, read as they are.
struct UCredMirror: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Room for the supplementary groups SO_PEERGROUPS returns; a peer with more gets no admin
/// rights from its supplementary groups (its uid and primary group still count).
struct PeerGroupsMirror: Sendable {
    var groups: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                 UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                 UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                 UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}

enum PeerCredentials {
    /// Linux's values (asm-generic, also x86-64 and arm64).
    static let soPeerCred: Int32 = 17
    static let soPeerGroups: Int32 = 59

    /// Reads the peer's credentials of an accepted UNIX socket channel.
    static func read(_ channel: any Channel) -> EventLoopFuture<PeerIdentity> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(.current)
        }
        let credentials: EventLoopFuture<UCredMirror> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(soPeerCred))
        return credentials.flatMap { credentials in
            let groups: EventLoopFuture<PeerGroupsMirror> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(soPeerGroups))
            return groups.map { mirror -> PeerIdentity in
                let list = withUnsafeBytes(of: mirror.groups) { Array($0.bindMemory(to: UInt32.self)) }
                // The buffer is zero-filled and the length is not returned: trailing zeros are
                // padding, except a first entry of 0 when the peer is in the root group.
                var trimmed = list
                while trimmed.count > 1, trimmed.last == 0 { trimmed.removeLast() }
                if trimmed == [0], credentials.gid != 0 { trimmed = [] }
                return PeerIdentity(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid, groups: trimmed)
            }.recover { _ in
                PeerIdentity(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid, groups: nil)
            }
        }
    }
}
