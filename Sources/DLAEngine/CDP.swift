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
        let wide = try Tensor(shape: input.shape, scalars: input.scalars.map { Int32($0) })
        let out = try runIntegers(wide, p, inputBits: 8, outputRange: p.outputType.range, profile: profile)
        return try Tensor(shape: out.shape, scalars: out.scalars.map { Int8(truncatingIfNeeded: $0) })
    }

    /// CDP on INT8 (`inputBits` 8) or INT16 (16) data held in Int32, as nvdla/hw's cmod computes it
    /// (`cmod/cdp/NV_NVDLA_cdp.cpp`, `lookup_lut_int8` / `lookup_lut`, with the HLS converters
    /// `cmod/hls/cdp_libs/cdp_icvt.cpp` and `cdp_ocvt.cpp`):
    /// - input converter `(x − offset)·scale >> shift`, rounded half away and saturated to 9 bits
    ///   (INT8) or 17 bits (INT16), the offset taken in 8 or 16 bits;
    /// - square sum of the `localSize` converted neighbours (channels past either edge are padded
    ///   with the offset, which converts to 0), or the converted value itself when
    ///   `bypassSquareSum`;
    /// - the LUT on that sum (`LookupTable.evaluate`, 16 bits);
    /// - the product with the converted input (unless `bypassMultiply`), exact in 25 / 33 bits;
    /// - output converter, saturated to `outputRange` (the offset taken in 25 bits for INT8).
    public static func runIntegers(
        _ input: Tensor<Int32>, _ p: CDPParameters, inputBits: Int, outputRange: ClosedRange<Int32>, profile: HardwareProfile
    ) throws(EngineError) -> Tensor<Int32> {
        guard profile.capabilities.contains(.cdp) else {
            throw .unsupported(unit: "CDP", capability: "local response normalization (CDP)", profile: profile.name)
        }
        guard [3, 5, 7, 9].contains(p.localSize) else {
            throw .invalidParameter(name: "CDP localSize", expected: "3, 5, 7 or 9", found: "\(p.localSize)")
        }
        guard inputBits == 8 || inputBits == 16 else {
            throw .invalidParameter(name: "CDP input bits", expected: "8 or 16", found: "\(inputBits)")
        }
        let (channels, height, width) = try input.featureMapDimensions("CDP input")
        let plane = height * width
        let convertedBits = inputBits + 1
        let convertedRange = -(Int32(1) << (convertedBits - 1))...((Int32(1) << (convertedBits - 1)) - 1)
        let inputOffset = inputBits == 8 ? Int32(Int8(truncatingIfNeeded: p.inputConverter.offset)) : Int32(Int16(truncatingIfNeeded: p.inputConverter.offset))
        let inputConverter = OutputConverter(offset: inputOffset, scale: p.inputConverter.scale, shift: min(p.inputConverter.shift, 31))
        let outputOffset = inputBits == 8 ? (p.outputConverter.offset << 7) >> 7 : p.outputConverter.offset
        let outputConverter = OutputConverter(offset: outputOffset, scale: p.outputConverter.scale, shift: p.outputConverter.shift)
        let converted = input.scalars.map { Int64(inputConverter.convert(Int64($0), to: convertedRange)) }
        let half = p.localSize / 2
        var output = [Int32](repeating: 0, count: input.count)
        for c in 0..<channels {
            for i in 0..<plane {
                let x = converted[c * plane + i]
                var squares: Int64 = 0
                if p.bypassSquareSum {
                    squares = x
                } else {
                    for neighbour in max(0, c - half)...min(channels - 1, c + half) {
                        let v = converted[neighbour * plane + i]
                        squares += v * v
                    }
                }
                let factor = p.lookupTable.evaluate(squares)
                output[c * plane + i] = outputConverter.convert(p.bypassMultiply ? factor : x * factor, to: outputRange)
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
