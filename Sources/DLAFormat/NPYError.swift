/// Why a `.npy` file could not be read or written. Each message names what was expected and
/// what was found, prefixed with `npy:` so it reads well in a CLI error line.
public enum NPYError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The input ended inside the fixed preamble or the header.
    case truncatedHeader(needed: Int, available: Int)
    case badMagic(found: [UInt8])
    case unsupportedVersion(major: UInt8, minor: UInt8)
    /// The declared header length exceeds `NPY.maxHeaderLength`.
    case headerTooLong(length: Int, limit: Int)
    /// The header is not the Python dict literal numpy writes.
    case malformedHeader(reason: String)
    case missingKey(String)
    case unexpectedKey(String)
    case unsupportedDType(String)
    case bigEndian(String)
    case objectArray(String)
    case structuredDType
    case fortranOrder
    case invalidShape(reason: String)
    /// The element or byte count of `shape` does not fit in a machine integer.
    case shapeOverflow(shape: [Int])
    case truncatedData(expectedBytes: Int, availableBytes: Int)
    case trailingData(expectedBytes: Int, availableBytes: Int)
    /// An `NPYArray` was built with a value count that does not match its shape.
    case countMismatch(shape: [Int], expectedCount: Int, count: Int)
    /// An integer view was requested of a floating-point array.
    case notAnIntegerArray(NPYDType)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .truncatedHeader(let needed, let available):
            "npy: truncated header: needed \(needed) bytes, found \(available)"
        case .badMagic(let found):
            "npy: not a .npy file: expected magic \\x93NUMPY, found \(found.map { String($0, radix: 16) })"
        case .unsupportedVersion(let major, let minor):
            "npy: unsupported format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)"
        case .headerTooLong(let length, let limit):
            "npy: header length \(length) exceeds the limit of \(limit) bytes"
        case .malformedHeader(let reason):
            "npy: malformed header: \(reason)"
        case .missingKey(let key):
            "npy: header lacks the key '\(key)' (expected 'descr', 'fortran_order', 'shape')"
        case .unexpectedKey(let key):
            "npy: header has the unexpected key '\(key)' (expected 'descr', 'fortran_order', 'shape')"
        case .unsupportedDType(let descr):
            "npy: unsupported dtype '\(descr)' (supported: \(NPYDType.supportedList))"
        case .bigEndian(let descr):
            "npy: big-endian dtype '\(descr)' is not supported (write the array little-endian, e.g. a.astype('<\(descr.dropFirst())'))"
        case .objectArray(let descr):
            "npy: object arrays ('\(descr)') are not supported: they hold pickled Python objects"
        case .structuredDType:
            "npy: structured (record) dtypes are not supported (supported: \(NPYDType.supportedList))"
        case .fortranOrder:
            "npy: Fortran-order arrays are not supported (save with numpy.ascontiguousarray)"
        case .invalidShape(let reason):
            "npy: invalid shape: \(reason)"
        case .shapeOverflow(let shape):
            "npy: shape \(shape) holds more elements than fit in memory"
        case .truncatedData(let expected, let available):
            "npy: truncated data: shape and dtype need \(expected) bytes, found \(available)"
        case .trailingData(let expected, let available):
            "npy: \(available - expected) unexpected bytes after the \(expected) data bytes"
        case .countMismatch(let shape, let expected, let count):
            "npy: shape \(shape) needs \(expected) values, got \(count)"
        case .notAnIntegerArray(let dtype):
            "npy: expected an integer array, found dtype '\(dtype.rawValue)'"
        case .io(let path, let reason):
            "npy: \(path): \(reason)"
        }
    }
}
