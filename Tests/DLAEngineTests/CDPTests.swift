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

/// CDP's integer widths as the cmod has them (`lookup_lut_int8` / `lookup_lut` with the HLS
/// converters): 9-bit (INT8) and 17-bit (INT16) converted inputs, bypasses, output saturation.
struct CDPHardwareWidthTests {
    /// A LUT that is 1 for every square sum ≥ 1.
    func unitTable() throws -> LookupTable {
        let one = LookupTable.Table(entries: [Int16](repeating: 1, count: 65), start: -1, mode: .linear(indexShift: 30))
        return try LookupTable(le: one, lo: LookupTable.Table(entries: [Int16](repeating: 1, count: 257), start: -1, mode: .linear(indexShift: 30)))
    }

    @Test func inputConverterSaturatesToNineOrSeventeenBits() throws {
        var p = CDPParameters(localSize: 3, inputConverter: OutputConverter(offset: 0, scale: 4, shift: 0), lookupTable: try unitTable(),
                              outputConverter: .identity)
        p.bypassSquareSum = true
        let x = try Tensor(shape: [1, 1, 2], scalars: [Int32(127), -128])
        // INT8: 127·4 = 508 saturates to 255, −512 to −256 (9 bits); the LUT gives 1.
        #expect(try CDP.runIntegers(x, p, inputBits: 8, outputRange: -32768...32767, profile: .nvFull).scalars == [255, -256])
        // INT16: 17 bits hold both products.
        #expect(try CDP.runIntegers(x, p, inputBits: 16, outputRange: -32768...32767, profile: .nvFull).scalars == [508, -512])
        // The output converter saturates to the output type.
        #expect(try CDP.runIntegers(x, p, inputBits: 8, outputRange: -128...127, profile: .nvFull).scalars == [127, -128])
        p.bypassMultiply = true
        #expect(try CDP.runIntegers(x, p, inputBits: 8, outputRange: -128...127, profile: .nvFull).scalars == [1, 1])
        #expect(throws: EngineError.invalidParameter(name: "CDP input bits", expected: "8 or 16", found: "12")) {
            try CDP.runIntegers(x, p, inputBits: 12, outputRange: -128...127, profile: .nvFull)
        }
    }
}
