import Testing
@testable import DLANumerics

struct FixedPointTests {
    /// Round half away from zero computed on exact rationals via Double where exact, for oracle use.
    static func referenceShift(_ x: Int64, _ shift: Int) -> Int64 {
        let divisor = Int64(1) << shift
        let quotient = x / divisor  // truncates toward zero
        let remainder = (x % divisor).magnitude
        let roundsAway = remainder * 2 >= UInt64(divisor)
        return roundsAway ? quotient + (x < 0 ? -1 : 1) : quotient
    }

    @Test func roundsHalfAwayFromZero() {
        #expect(FixedPoint.roundHalfAwayShiftRight(5, by: 1) == 3)
        #expect(FixedPoint.roundHalfAwayShiftRight(-5, by: 1) == -3)
        #expect(FixedPoint.roundHalfAwayShiftRight(-3, by: 1) == -2)
        #expect(FixedPoint.roundHalfAwayShiftRight(-1, by: 1) == -1)
        #expect(FixedPoint.roundHalfAwayShiftRight(-6, by: 2) == -2)  // -1.5
        #expect(FixedPoint.roundHalfAwayShiftRight(-5, by: 2) == -1)  // -1.25
        #expect(FixedPoint.roundHalfAwayShiftRight(7, by: 0) == 7)
        #expect(FixedPoint.roundHalfAwayShiftRight(.max, by: 63) == 1)
        #expect(FixedPoint.roundHalfAwayShiftRight(.min, by: 63) == -1)
        #expect(FixedPoint.roundHalfAwayShiftRight(.min, by: 1) == .min / 2)
        #expect(FixedPoint.roundHalfAwayShiftRight(.min, by: 64) == -1)
        #expect(FixedPoint.roundHalfAwayShiftRight(.max, by: 64) == 0)
        #expect(FixedPoint.roundHalfAwayShiftRight(.min, by: 65) == 0)
    }

    @Test func agreesWithDivisionReference() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let x = Int64(bitPattern: generator.next()) >> (generator.next() % 40)
            let shift = Int(generator.next() % 62) + 1
            #expect(FixedPoint.roundHalfAwayShiftRight(x, by: shift) == Self.referenceShift(x, shift), "x=\(x) shift=\(shift)")
        }
    }

    @Test func saturates() {
        #expect(FixedPoint.saturate(300, to: -128...127) == 127)
        #expect(FixedPoint.saturate(-300, to: -128...127) == -128)
        #expect(FixedPoint.saturate(-5, to: 0...255) == 0)
        #expect(FixedPoint.saturate(42, to: 0...255) == 42)
        #expect(FixedPoint.saturate(.max, to: Int32.min...Int32.max) == .max)
        #expect(FixedPoint.saturate(.min, to: Int32.min...Int32.max) == .min)
    }
}

/// Deterministic PRNG so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
