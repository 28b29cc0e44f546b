/// The NumPy element types `.npy` files exchange with dlad, spelled as numpy writes them in the
/// header's `descr` (little-endian; `|` for single bytes, where byte order does not apply).
public enum NPYDType: String, Sendable, CaseIterable {
    case float32 = "<f4"
    case float64 = "<f8"
    case float16 = "<f2"
    case int8 = "|i1"
    case uint8 = "|u1"
    case int32 = "<i4"
    case int64 = "<i8"

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .int8, .uint8: 1
        case .float16: 2
        case .float32, .int32: 4
        case .float64, .int64: 8
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .float32, .float64: true
        case .int8, .uint8, .int32, .int64: false
        }
    }

    /// numpy's name of the type (`float32`), for messages.
    public var numpyName: String {
        switch self {
        case .float32: "float32"
        case .float64: "float64"
        case .float16: "float16"
        case .int8: "int8"
        case .uint8: "uint8"
        case .int32: "int32"
        case .int64: "int64"
        }
    }

    /// The supported descriptors, for error messages.
    static let supportedList = allCases.map(\.rawValue).joined(separator: ", ")
}
