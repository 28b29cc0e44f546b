import Testing
@testable import DLANumerics

struct OutputConverterTests {
    let int8 = IntegerQuantType.int8.range
    let int32 = Int32.min...Int32.max

    @Test func roundsNegativeHalvesAwayFromZero() {
        let halve = OutputConverter(offset: 0, scale: 1, shift: 1)
        #expect(halve.convert(-5, to: int8) == -3)  // -2.5
        #expect(halve.convert(5, to: int8) == 3)
        #expect(halve.convert(-3, to: int8) == -2)  // -1.5
        #expect(halve.convert(-1, to: int8) == -1)  // -0.5
        #expect(halve.convert(-4, to: int8) == -2)
        let quarter = OutputConverter(offset: 0, scale: 3, shift: 2)
        #expect(quarter.convert(-2, to: int8) == -2)  // -6/4 = -1.5
        #expect(quarter.convert(-1, to: int8) == -1)  // -0.75
    }

    @Test func appliesOffsetBeforeScale() {
        let converter = OutputConverter(offset: 10, scale: 3, shift: 1)
        #expect(converter.convert(15, to: int8) == 8)  // (5 * 3) / 2 = 7.5 → 8
        #expect(converter.convert(5, to: int8) == -8)  // -7.5 → -8
        #expect(OutputConverter(offset: -100, scale: 1, shift: 0).convert(0, to: int32) == 100)
    }

    @Test func saturates() {
        let converter = OutputConverter(offset: 0, scale: 32767, shift: 0)
        #expect(converter.convert(1000, to: int8) == 127)
        #expect(converter.convert(-1000, to: int8) == -128)
        #expect(converter.convert(-1, to: IntegerQuantType.uint8.range) == 0)
        #expect(converter.convert(.max, to: int32) == .max)  // product far beyond Int64: no wrap
        #expect(OutputConverter(offset: .max, scale: -32768, shift: 0).convert(.min, to: int32) == .max)
        #expect(OutputConverter(offset: .min, scale: -32768, shift: 0).convert(.max, to: int32) == .min)
    }

    @Test func shiftExtremes() {
        let identity = OutputConverter.identity
        #expect(identity.convert(-123_456, to: int32) == -123_456)
        let widest = OutputConverter(offset: 0, scale: 1, shift: 63)
        #expect(widest.convert(.max, to: int32) == 1)
        #expect(widest.convert(.min, to: int32) == -1)
        #expect(widest.convert(1 << 62, to: int32) == 1)  // exactly 0.5 → away from zero
        #expect(widest.convert((1 << 62) - 1, to: int32) == 0)
        #expect(OutputConverter(offset: 0, scale: 16384, shift: 63).convert(.max, to: int32) == 16384)
        #expect(OutputConverter(offset: 0, scale: 1, shift: 200).shift == 63)
    }

    @Test func realisesFixedPointScale() throws {
        let multiplier = try #require(FixedPointScale.approximating(0.0123))
        let converter = OutputConverter(offset: 0, multiplier: multiplier)
        for x: Int64 in [-100_000, -8131, -1, 0, 1, 8131, 100_000] {
            let exact = Double(x) * multiplier.value
            let expected = Int32(max(-128, min(127, exact.rounded(.toNearestOrAwayFromZero))))
            #expect(converter.convert(x, to: int8) == expected, "x=\(x)")
        }
    }
}
