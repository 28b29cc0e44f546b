#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DLANumerics

/// The channel data processor: local response normalization across channels through the LUT
/// (nvdla/doc unit_description.rst, CDP; lut-programming.rst recommends LE exponential as the raw
/// table and LO linear as the density table for LRN, as `LookupTable.localResponseNormalization`
/// builds).
public enum CDP {
    public static func run(_ input: Tensor<Int8>, _ p: CDPParameters, profile: HardwareProfile) throws(EngineError) -> Tensor<Int8> {
        guard profile.capabilities.contains(.cdp) else {
            throw .unsupported(unit: "CDP", capability: "local response normalization (CDP)", profile: profile.name)
        }
        guard [3, 5, 7, 9].contains(p.localSize) else {
            throw .invalidParameter(name: "CDP localSize", expected: "3, 5, 7 or 9", found: "\(p.localSize)")
        }
        let (channels, height, width) = try input.featureMapDimensions("CDP input")
        let plane = height * width
        let converted = input.scalars.map { Int64(p.inputConverter.convert(Int64($0), to: -32768...32767)) }
        let half = p.localSize / 2
        let range = p.outputType.range
        var output = [Int8](repeating: 0, count: input.count)
        for c in 0..<channels {
            for i in 0..<plane {
                var squares: Int64 = 0
                for neighbour in max(0, c - half)...min(channels - 1, c + half) {
                    let x = converted[neighbour * plane + i]
                    squares += x * x
                }
                let factor = p.lookupTable.evaluate(squares)
                let y = p.outputConverter.convert(converted[c * plane + i] * factor, to: range)
                output[c * plane + i] = Int8(truncatingIfNeeded: y)
            }
        }
        return try Tensor(shape: input.shape, scalars: output)
    }
}

extension LookupTable {
    /// An LRN table: entries `(k + α/n·s)^−β · 2^outputFractionBits` for square sums `s` of inputs
    /// (already in integer units). LE (exponential) covers s = 2^0 … 2^64 raw; LO (linear) covers
    /// s = 0 … 2^`loRangeLog2` densely, where most inputs fall (lut-programming.rst, "LRN").
    public static func localResponseNormalization(
        alpha: Double, beta: Double, k: Double, localSize: Int, inputScale: Double,
        outputFractionBits: Int, loRangeLog2: Int = 12
    ) throws(EngineError) -> LookupTable {
        try EngineError.require("LRN outputFractionBits", outputFractionBits, in: 0...15)
        try EngineError.require("LRN loRangeLog2", loRangeLog2, in: 8...40)
        guard [3, 5, 7, 9].contains(localSize) else {
            throw .invalidParameter(name: "LRN localSize", expected: "3, 5, 7 or 9", found: "\(localSize)")
        }
        let scale = Double(1 << outputFractionBits)
        func f(_ squares: Double) throws(EngineError) -> Int16 {
            let real = squares * inputScale * inputScale
            let y = (pow(k + alpha / Double(localSize) * real, -beta) * scale).rounded(.toNearestOrAwayFromZero)
            // A negative base to a fractional power (k < 0, say) has no real value.
            guard !y.isNaN else {
                throw .invalidParameter(name: "LRN (k + α/n·Σx²)^−β", expected: "a real number for every square sum", found: "NaN (k \(k), α \(alpha), β \(beta))")
            }
            return Int16(max(min(y, Double(Int16.max)), Double(Int16.min)))
        }
        var leEntries: [Int16] = []
        for exponent in 0..<leEntryCount { leEntries.append(try f(Double(sign: .plus, exponent: exponent, significand: 1))) }
        let loShift = loRangeLog2 - 8
        var loEntries: [Int16] = []
        for index in 0..<loEntryCount { loEntries.append(try f(Double(sign: .plus, exponent: loShift, significand: Double(index)))) }
        return try LookupTable(
            le: Table(entries: leEntries, start: 0, mode: .exponential(indexOffset: 0)),
            lo: Table(entries: loEntries, start: 0, mode: .linear(indexShift: loShift)),
            hitPriority: .lo, underflowPriority: .lo, overflowPriority: .le)
    }
}
