#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DLANumerics
import Testing
@testable import DLAEngine

struct CDPTests {
    /// LRN through the hybrid LUT against the real formula y = x·(k + α/n·Σx²)^−β.
    @Test func localResponseNormalizationTracksTheFormula() throws {
        let (alpha, beta, k, n, scale) = (1.0, 0.75, 1.0, 5, 0.05)
        let fractionBits = 14
        let table = try LookupTable.localResponseNormalization(alpha: alpha, beta: beta, k: k, localSize: n, inputScale: scale,
                                                               outputFractionBits: fractionBits, loRangeLog2: 16)
        let p = CDPParameters(localSize: n, lookupTable: table, outputConverter: OutputConverter(offset: 0, scale: 1, shift: UInt8(fractionBits)))
        var random = TestRandom(seed: 5)
        let input = try Tensor(shape: [12, 4, 4], scalars: random.int8s(192))
        let out = try CDP.run(input, p, profile: .nvSmall)
        var worst = 0.0
        for c in 0..<12 {
            for i in 0..<16 {
                var squares = 0.0
                for m in max(0, c - 2)...min(11, c + 2) {
                    let x = Double(input.scalars[m * 16 + i]) * scale
                    squares += x * x
                }
                let expected = Double(input.scalars[c * 16 + i]) * pow(k + alpha / Double(n) * squares, -beta)
                worst = max(worst, abs(Double(out.scalars[c * 16 + i]) - expected))
            }
        }
        #expect(worst <= 1.5, "worst error \(worst) LSB")
        #expect(throws: EngineError.invalidParameter(name: "CDP localSize", expected: "3, 5, 7 or 9", found: "4")) {
            var bad = p
            bad.localSize = 4
            return try CDP.run(input, bad, profile: .nvSmall)
        }
    }
}
