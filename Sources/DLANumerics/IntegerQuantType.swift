/// The integer element types of affine (scale + zero point) quantization.
///
/// The raw value is the on-disk tag used by the `.dla` container; never renumber.
public enum IntegerQuantType: UInt8, Sendable, CaseIterable {
    case int8 = 0
    case uint8 = 1

    /// The representable values; quantization saturates into this range.
    public var range: ClosedRange<Int32> {
        switch self {
        case .int8: -128...127
        case .uint8: 0...255
        }
    }
}
