#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DLANumerics
import Testing
@testable import DLAEngine

struct SDPTests {
    @Test func biasScaleReluAndConverterRoundHalfAway() throws {
        let input = try Tensor<Int32>(shape: [1, 2, 2], scalars: [100, -50, 7, 3])
        let parameters = SDPParameters(
            stages: [.add(.perChannel([10])), .multiply(.constant(3), shift: 1), .relu],
            converter: OutputConverter(offset: 0, scale: 1, shift: 1))
        // 110·3/2 = 165; −40·3/2 = −60 → 0; 17·3/2 = 25.5 → 26; 13·3/2 = 19.5 → 20; then /2 again.
        let out = try SDP.run(input, parameters, profile: .nvSmall)
        #expect(out.scalars == [83, 0, 13, 10])
    }

    @Test func elementwiseAddMaxPreluAndClip() throws {
        let input = try Tensor<Int32>(shape: [2, 1, 2], scalars: [-10, 20, 30, -40])
        let other = try Tensor<Int32>(shape: [2, 1, 2], scalars: [1, -2, 3, -4])
        let added = try SDP.runStages(input, [.add(.elementwise(other))], profile: .nvFull)
        #expect(added == [-9, 18, 33, -44])
        let maxed = try SDP.runStages(input, [.maximum(.elementwise(other))], profile: .nvFull)
        #expect(maxed == [1, 20, 30, -4])
        // Negative side × 3/4, rounded half away: −10 → −7.5 → −8; −40 → −30.
        let prelu = try SDP.runStages(input, [.prelu(slope: .perChannel([3, 3]), shift: 2)], profile: .nvSmall)
        #expect(prelu == [-8, 20, 30, -30])
        let relu6 = try SDP.runStages(input, [.clip(lower: 0, upper: 25)], profile: .nvSmall)
        #expect(relu6 == [0, 20, 25, 0])
    }

    @Test func perChannelOperandsFollowTheChannelAxis() throws {
        let fc = try Tensor<Int32>(shape: [2, 3], scalars: [0, 0, 0, 1, 1, 1])
        let out = try SDP.runStages(fc, [.add(.perChannel([10, 20, 30]))], profile: .nvSmall, channelAxis: 1)
        #expect(out == [10, 20, 30, 11, 21, 31])
    }

    @Test func stagesSaturateToInt32() throws {
        let input = try Tensor<Int32>(shape: [1, 1, 1], scalars: [Int32.max])
        #expect(try SDP.runStages(input, [.add(.constant(5))], profile: .nvSmall) == [Int32.max])
        #expect(try SDP.runStages(input, [.multiply(.constant(-4), shift: 0)], profile: .nvSmall) == [Int32.min])
    }

    @Test func profilesWithoutTheUnitRefuseByName() throws {
        let input = try Tensor<Int32>(shape: [1, 1, 2], scalars: [1, 2])
        let table = try LookupTable.activation({ 1 / (1 + exp(-$0)) }, inputFractionBits: 8, outputScale: 32767)
        #expect(throws: EngineError.unsupported(unit: "SDP", capability: "LUT activation (SDP_LUT)", profile: "nv_small")) {
            try SDP.runStages(input, [.lookup(table)], profile: .nvSmall)
        }
        #expect(throws: EngineError.unsupported(unit: "SDP", capability: "element-wise operand (SDP_EW)", profile: "nv_small")) {
            try SDP.runStages(input, [.add(.elementwise(input))], profile: .nvSmall)
        }
        #expect(throws: EngineError.elementCountMismatch(what: "SDP per-channel operand", expected: 1, found: 2)) {
            try SDP.runStages(input, [.add(.perChannel([1, 2]))], profile: .nvSmall)
        }
    }
}

struct IntegerArithmeticTests {
    /// The inlined rounding and the SDP converter fast path against DLANumerics, extremes included.
    @Test func inlinedRoundingAndConverterMatchDLANumerics() {
        var random = TestRandom(seed: 17)
        let extremes: [Int64] = [0, 1, -1, 2, -2, 3, -3, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1, 1 << 62, -(1 << 62)]
        for x in extremes + (0..<2000).map({ _ in Int64(bitPattern: random.next()) >> Int64(random.int(in: 0...62)) }) {
            for shift in [0, 1, 2, 7, 31, 32, 62, 63] {
                #expect(IntegerArithmetic.roundHalfAwayShiftRight(x, by: shift) == FixedPoint.roundHalfAwayShiftRight(x, by: shift), "\(x) >> \(shift)")
            }
        }
        let inputs: [Int32] = [0, 1, -1, Int32.max, Int32.min, 12345, -12345]
        for _ in 0..<500 {
            let converter = OutputConverter(offset: Int32(truncatingIfNeeded: random.next()), scale: Int16(truncatingIfNeeded: random.next()),
                                            shift: UInt8(random.int(in: 0...63)))
            for x in inputs + [Int32(truncatingIfNeeded: random.next())] {
                for range in [IntegerQuantType.int8.range, Int32.min...Int32.max] {
                    #expect(SDP.convert(x, converter, to: range) == converter.convert(Int64(x), to: range))
                }
            }
        }
    }
}
