/// A positive real multiplier `M` factored as `scale × 2^-shift` with a 16-bit signed `scale`
/// and a 6-bit `shift`, the form NVDLA's SDP output converter and requantization take.
///
/// `approximating(_:)` picks the largest shift (≤ 63) that keeps `scale ≤ 32767`, i.e. the most
/// precise factorization: `scale` lands in [16384, 32767], so the relative error is at most
/// `relativeErrorBound` (2^-15). Only multipliers below about 2^-49, where the shift hits 63,
/// get a smaller `scale` and a larger error; check `relativeError(to:)` if that matters.
public struct FixedPointScale: Sendable, Hashable {
    public let scale: Int16
    public let shift: UInt8

    /// The guaranteed relative error for multipliers in [2^-49, 32767.5).
    public static let relativeErrorBound: Double = 0x1p-15

    /// `scale × 2^-shift`, exactly.
    public var value: Double { Double(sign: .plus, exponent: -Int(shift), significand: Double(scale)) }

    public init(scale: Int16, shift: UInt8) {
        self.scale = scale
        self.shift = shift
    }

    /// The most precise factorization of `m`, or nil when none exists: `m` is NaN, infinite,
    /// ≤ 0, too large (rounds to a scale above 32767 at shift 0, i.e. `m ≥ 32767.5`) or too small
    /// (rounds to scale 0 at shift 63, i.e. `m < 2^-64`). Scale rounding is half away from zero.
    public static func approximating(_ m: Double) -> FixedPointScale? {
        guard m.isFinite, m > 0 else { return nil }
        // m · 2^shift ∈ [2^14, 2^15) for this shift.
        var shift = min(63, 14 - Int(m.exponent))
        guard shift >= 0 else { return nil }
        var scaled = (m * Double(sign: .plus, exponent: shift, significand: 1)).rounded(.toNearestOrAwayFromZero)
        if scaled > 32767 {
            // Rounded up to 2^15: one shift less lands on 2^14 exactly.
            shift -= 1
            guard shift >= 0 else { return nil }
            scaled = (m * Double(sign: .plus, exponent: shift, significand: 1)).rounded(.toNearestOrAwayFromZero)
        }
        guard scaled >= 1 else { return nil }
        return FixedPointScale(scale: Int16(scaled), shift: UInt8(shift))
    }

    /// `|value - m| / m`.
    public func relativeError(to m: Double) -> Double {
        abs(value - m) / m
    }
}
