import Testing
@testable import DLANumerics

struct FixedPointScaleTests {
    @Test func boundHoldsForRandomMultipliers() throws {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<20_000 {
            // Log-uniform over the guaranteed range [2^-49, 2^15).
            let exponent = Int(generator.next() % 64) - 49
            let mantissa = 1 + Double(generator.next() >> 11) * 0x1p-53
            let m = mantissa * powerOfTwo(exponent)
            guard m < 32767.5 else { continue }
            let factor = try #require(FixedPointScale.approximating(m), "m=\(m)")
            #expect(factor.relativeError(to: m) <= FixedPointScale.relativeErrorBound, "m=\(m)")
            #expect(factor.scale >= 16384, "not maximally precise for m=\(m)")
            #expect(factor.shift <= 63)
        }
    }

    @Test func choosesTheLargestShift() throws {
        let one = try #require(FixedPointScale.approximating(1))
        #expect(one.scale == 16384 && one.shift == 14)
        let half = try #require(FixedPointScale.approximating(0.5))
        #expect(half.scale == 16384 && half.shift == 15)
        // Just below 2: scale would round to 32768, so one shift less.
        let nearTwo = try #require(FixedPointScale.approximating(2 - 0x1p-20))
        #expect(nearTwo.scale == 16384 && nearTwo.shift == 13)
        let third = try #require(FixedPointScale.approximating(1.0 / 3))
        #expect(third.scale == 21845 && third.shift == 16)
        #expect(third.value == 21845 * 0x1p-16)
        let largest = try #require(FixedPointScale.approximating(32767))
        #expect(largest.scale == 32767 && largest.shift == 0)
    }

    @Test func tinyMultipliersUseShift63() throws {
        let tiny = try #require(FixedPointScale.approximating(0x1p-60))
        #expect(tiny.shift == 63 && tiny.scale == 8)
        #expect(tiny.relativeError(to: 0x1p-60) == 0)
        let smallest = try #require(FixedPointScale.approximating(0x1p-64))  // rounds half away to 1
        #expect(smallest.scale == 1 && smallest.shift == 63)
        #expect(FixedPointScale.approximating(Double(0x1p-64).nextDown) == nil)
    }

    @Test func rejectsUnrepresentable() {
        for m in [0, -1, -0.0, .nan, .infinity, -.infinity, 32768, 32767.5, 1e300, 0x1p-70, .leastNonzeroMagnitude] {
            #expect(FixedPointScale.approximating(m) == nil, "m=\(m)")
        }
        #expect(FixedPointScale.approximating(32767.49) != nil)
    }
}
