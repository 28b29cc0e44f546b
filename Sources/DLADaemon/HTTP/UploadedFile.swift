#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Crypto

/// A request body streamed to a temporary file in the state directory, hashed as it arrives.
///
/// Model pushes can be hundreds of megabytes: they never sit in memory whole while they arrive,
/// and a rejected or abandoned upload leaves no file behind (`discard`).
public final class UploadedFile: @unchecked Sendable {
    public let path: String
    public private(set) var byteCount = 0
    private var descriptor: Int32
    private var hasher = SHA256()
    private var digest: [UInt8]?

    /// Creates a fresh `directory/upload-…` file with mode 0600 (mkstemp fills in the six `X`s
    /// of its template).
    public init(directory: String) throws(UploadError) {
        var template = Array((directory + "/upload-" + String(repeating: "X", count: 6)).utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw UploadError.io("cannot create an upload file in \(directory): \(String(cString: strerror(errno)))", errno) }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        descriptor = fd
    }

    /// Test and seeding convenience: a file that already holds `bytes`.
    public convenience init(directory: String, bytes: [UInt8]) throws(UploadError) {
        try self.init(directory: directory)
        var failure: UploadError?
        bytes.withUnsafeBytes { raw in
            do throws(UploadError) { try append(raw) } catch { failure = error }
        }
        if let failure { throw failure }
        try finish()
    }

    public func append(_ bytes: UnsafeRawBufferPointer) throws(UploadError) {
        hasher.update(bufferPointer: bytes)
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                throw UploadError.io("writing the upload failed: \(String(cString: strerror(code)))", code)
            }
            offset += written
        }
        byteCount += bytes.count
    }

    /// Flushes and closes the file; the digest is final from here on.
    public func finish() throws(UploadError) {
        guard descriptor >= 0 else { return }
        defer {
            close(descriptor)
            descriptor = -1
        }
        digest = Array(hasher.finalize())
        guard fsync(descriptor) == 0 else {
            let code = errno
            throw UploadError.io("flushing the upload failed: \(String(cString: strerror(code)))", code)
        }
    }

    public var sha256: [UInt8] { digest ?? [] }

    /// The whole file (size-capped before it was written).
    public func readAll() throws(UploadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw UploadError.io("cannot reopen the upload: \(String(cString: strerror(errno)))", errno) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: byteCount)
        var offset = 0
        while offset < byteCount {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, byteCount - offset) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw UploadError.io("the upload file is shorter than what was received", EIO) }
            offset += count
        }
        return bytes
    }

    /// Removes the file; safe to call more than once.
    public func discard() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        unlink(path)
    }

    deinit { discard() }
}

public enum UploadError: Error, Sendable, CustomStringConvertible {
    case io(String, Int32)

    public var description: String {
        switch self {
        case .io(let message, _): message
        }
    }

    /// The disk is full (or over quota): the API answers 507.
    public var isStorageFull: Bool {
        switch self {
        case .io(_, let code): code == ENOSPC || code == EDQUOT
        }
    }
}
