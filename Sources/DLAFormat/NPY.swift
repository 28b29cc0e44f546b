#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and writes NumPy `.npy` files, the exchange format for test inputs, reference outputs
/// and calibration data between dlad and Python tooling.
///
/// Reading is strict: every size comes from a checked header whose length is capped, and the
/// data length must match shape × dtype exactly, so nothing is allocated from an unchecked field.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Longest header accepted on read (numpy's own default limit is 10 000 bytes).
    public static let maxHeaderLength = 65536

    public static func read(_ bytes: [UInt8]) throws(NPYError) -> NPYArray {
        let magicPrefix = Array(bytes.prefix(magic.count))
        guard magic.starts(with: magicPrefix) else { throw .badMagic(found: magicPrefix) }
        let versionEnd = magic.count + 2
        guard bytes.count >= versionEnd else { throw .truncatedHeader(needed: versionEnd, available: bytes.count) }
        let major = bytes[magic.count]
        let minor = bytes[magic.count + 1]
        guard let version = NPYVersion(major: major, minor: minor) else {
            throw .unsupportedVersion(major: major, minor: minor)
        }
        let headerStart = versionEnd + version.lengthFieldSize
        guard bytes.count >= headerStart else { throw .truncatedHeader(needed: headerStart, available: bytes.count) }
        var headerLength = 0
        for index in (versionEnd..<headerStart).reversed() {
            headerLength = headerLength << 8 | Int(bytes[index])
        }
        guard headerLength <= maxHeaderLength else {
            throw .headerTooLong(length: headerLength, limit: maxHeaderLength)
        }
        let dataStart = headerStart + headerLength
        guard bytes.count >= dataStart else { throw .truncatedHeader(needed: dataStart, available: bytes.count) }
        let header = try NPYHeader(parsing: bytes[headerStart..<dataStart], utf8: version == .v3_0)

        let elements = try NPYArray.elementCount(header.shape)
        let (dataLength, overflow) = elements.multipliedReportingOverflow(by: header.dtype.itemSize)
        guard !overflow else { throw .shapeOverflow(shape: header.shape) }
        let available = bytes.count - dataStart
        guard available >= dataLength else { throw .truncatedData(expectedBytes: dataLength, availableBytes: available) }
        guard available == dataLength else { throw .trailingData(expectedBytes: dataLength, availableBytes: available) }
        return try NPYArray(dtype: header.dtype, shape: header.shape, data: Array(bytes[dataStart...]))
    }

    /// Serializes `array` exactly as `numpy.save` does. Version 1.0 (numpy's default) always
    /// suffices: with at most 64 dimensions the header stays far below its 65 535-byte limit,
    /// which is what versions 2.0 and 3.0 exist to lift.
    public static func write(_ array: NPYArray, version: NPYVersion = .v1_0) -> [UInt8] {
        let headerBytes = NPYHeader(dtype: array.dtype, shape: array.shape).encoded(version: version)
        var bytes = magic + [version.major, 0]
        for byte in 0..<version.lengthFieldSize {
            bytes.append(UInt8(truncatingIfNeeded: headerBytes.count >> (8 * byte)))
        }
        bytes += headerBytes
        bytes += array.data
        return bytes
    }

    public static func read(path: String) throws(NPYError) -> NPYArray {
        let contents: Data
        do {
            contents = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .io(path: path, reason: "cannot read: \(describeFileError(error))")
        }
        return try read([UInt8](contents))
    }

    /// Writes atomically (a temporary file renamed into place), so readers never see half a file.
    public static func write(_ array: NPYArray, path: String, version: NPYVersion = .v1_0) throws(NPYError) {
        do {
            try Data(write(array, version: version)).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .io(path: path, reason: "cannot write: \(describeFileError(error))")
        }
    }

    /// The operating system's reason (e.g. "No such file or directory") rather than
    /// Foundation's userInfo dump.
}

/// The reason a file could not be read or written, as strerror says it ("No such file or
/// directory"): FoundationEssentials has no `localizedDescription`, and a CocoaError's own
/// description is a struct dump.
public func describeFileError(_ error: any Error) -> String {
    if let cocoa = error as? CocoaError, let posix = cocoa.underlying as? POSIXError {
        return String(cString: strerror(posix.code.rawValue))
    }
    return "\(error)"
}
