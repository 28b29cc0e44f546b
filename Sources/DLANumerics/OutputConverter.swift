/// The SDP output converter register set (NVDLA `CVT_OFFSET`, `CVT_SCALE`, `CVT_SHIFT`):
/// `out = saturate(round_half_away(((x - offset) * scale) >> shift))`.
///
/// The hardware computes the product wide enough never to wrap; this model uses Int128 so any
/// Int64 input converts exactly.
public struct OutputConverter: Sendable, Hashable {
    /// `CVT_OFFSET`, 32 bits, subtracted before scaling.
    public var offset: Int32
    /// `CVT_SCALE`, 16-bit signed multiplier.
    public var scale: Int16
    /// `CVT_SHIFT`, 6 bits (0...63).
    public var shift: UInt8

    /// The largest shift the 6-bit `CVT_SHIFT` register holds.
    public static let maxShift: UInt8 = 63

    /// The converter that passes values through unchanged (scale 1, shift 0, offset 0).
    public static let identity = OutputConverter(offset: 0, scale: 1, shift: 0)

    /// `shift` above 63 is clamped to 63, as only six register bits exist.
    public init(offset: Int32, scale: Int16, shift: UInt8) {
        self.offset = offset
        self.scale = scale
        self.shift = min(shift, Self.maxShift)
    }

    /// A converter realising the real multiplier `multiplier` (see `FixedPointScale`).
    public init(offset: Int32, multiplier: FixedPointScale) {
        self.init(offset: offset, scale: multiplier.scale, shift: multiplier.shift)
    }

    public func convert(_ x: Int64, to range: ClosedRange<Int32>) -> Int32 {
        let product = (Int128(x) - Int128(offset)) * Int128(scale)
        let shifted = FixedPoint.roundHalfAwayShiftRight(generic: product, by: Int(min(shift, Self.maxShift)))
        let clamped = min(max(shifted, Int128(range.lowerBound)), Int128(range.upperBound))
        return Int32(clamped)
    }
}
