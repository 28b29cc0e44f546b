import DLAFormat
import DLANumerics

/// One layer's weights in the form the convolution core reads: codes (INT8, FP8 or FP16 bit
/// patterns), row-major with the output channel first, and one real scale per output channel
/// (`real = scale_c × value(code)`; FP16 uses scale 1).
public struct LayerWeights: Sendable {
    public var name: String
    public var shape: [Int]
    public var precision: Precision
    /// INT8 codes as Int32 (−127…127), FP8 / FP16 as bit patterns.
    public var codes: [Int32]
    public var scales: [Float]
    /// Set when the codes are the model's own (a quantized model): they are stored as given.
    public var fromModel: Bool

    public var outputChannels: Int { shape[0] }
    public var channelLength: Int { codes.count / max(shape[0], 1) }

    /// The real value a code stands for, scale not applied.
    func value(ofCode code: Int32) -> Float {
        switch precision {
        case .int8: Float(code)
        case .fp8e4m3: FP8.decode(UInt8(truncatingIfNeeded: code), .e4m3fn)
        case .fp8e5m2: FP8.decode(UInt8(truncatingIfNeeded: code), .e5m2)
        case .fp16: FP16.decode(UInt16(truncatingIfNeeded: code))
        }
    }

    func code(ofValue value: Float) -> Int32 {
        switch precision {
        case .int8: Int32(max(-127, min(127, value.rounded(.toNearestOrEven))))
        case .fp8e4m3: Int32(FP8.encode(value, as: .e4m3fn, overflow: .saturate))
        case .fp8e5m2: Int32(FP8.encode(value, as: .e5m2, overflow: .saturate))
        case .fp16: Int32(FP16.encode(value))
        }
    }

    func isZero(_ code: Int32) -> Bool { value(ofCode: code) == 0 }

    /// The weights as the `.dla` stores them.
    var tensorValues: DLATensorValues {
        switch precision {
        case .int8: .int8(codes.map { Int8(clamping: $0) })
        case .fp8e4m3: .fp8e4m3(codes.map { UInt8(truncatingIfNeeded: $0) })
        case .fp8e5m2: .fp8e5m2(codes.map { UInt8(truncatingIfNeeded: $0) })
        case .fp16: .float16(codes.map { UInt16(truncatingIfNeeded: $0) })
        }
    }

    /// How far below the layer's largest INT8 channel scale a channel's scale may go. SDP
    /// requantizes INT8 with 16-bit multipliers that share one shift, so a channel whose scale is
    /// 2^k below the largest keeps only 15 − k bits of its multiplier, and the bias (counted in
    /// units of its scale) outgrows INT32 as the scale nears zero. A pruned channel (all weights
    /// zero, or negligible) thus gets a scale within 2^7 of the largest: its weights stay zero,
    /// its multiplier keeps 8 bits, and its bias fits and comes out within an output step.
    static let int8ScaleSpread: Float = 128

    /// Quantizes real weights `[K, …]`: INT8 symmetric per output channel (scale = max|w|/127,
    /// at least the largest channel's / `int8ScaleSpread`), FP8 per output channel from amax
    /// (scale = amax / largest finite; 1 for an all-zero channel), FP16 unscaled. A layer
    /// whose weights already take at most `sharedValueLimit` distinct values (shared during
    /// training) gets one scale for the whole tensor instead, so that equal weights keep equal
    /// codes and the sharing survives.
    static func quantizing(_ real: [Float], shape: [Int], name: String, precision: Precision, sharedValueLimit: Int) -> LayerWeights {
        let channels = shape[0]
        let length = real.count / max(channels, 1)
        var distinct = Set<UInt32>()
        for value in real where distinct.count <= sharedValueLimit { distinct.insert(value.bitPattern) }
        let shared = distinct.count <= sharedValueLimit
        let target: Float
        switch precision {
        case .int8: target = 127
        case .fp8e4m3: target = FP8.maxFinite(.e4m3fn)
        case .fp8e5m2: target = FP8.maxFinite(.e5m2)
        case .fp16: target = 0
        }
        var scales = [Float](repeating: 1, count: channels)
        if precision != .fp16 {
            if shared {
                let amax = real.reduce(Float(0)) { max($0, abs($1)) }
                scales = [Float](repeating: amax > 0 ? amax / target : 1, count: channels)
            } else {
                for c in 0..<channels {
                    let amax = real[(c * length)..<((c + 1) * length)].reduce(Float(0)) { max($0, abs($1)) }
                    scales[c] = amax / target
                }
                let largest = scales.max() ?? 0
                for c in 0..<channels {
                    if precision == .int8 {
                        scales[c] = largest > 0 ? max(scales[c], largest / Self.int8ScaleSpread) : 1
                    } else if scales[c] == 0 {
                        scales[c] = 1
                    }
                }
            }
        }
        var weights = LayerWeights(name: name, shape: shape, precision: precision, codes: [], scales: scales, fromModel: false)
        weights.codes = real.indices.map { weights.code(ofValue: real[$0] / scales[$0 / max(length, 1)]) }
        return weights
    }

    /// The model's own codes: INT8 (zero point 0; uint8 weights are not supported) or FP8,
    /// per tensor or per output channel (axis 0 of `shape`).
    static func fromModel(_ constant: QuantizedConstant, realShape shape: [Int], name: String, node: String) throws(CompilerError) -> LayerWeights {
        let precision: Precision
        switch constant.codes.elementType {
        case .int8: precision = .int8
        case .fp8e4m3fn: precision = .fp8e4m3
        case .fp8e5m2: precision = .fp8e5m2
        default:
            throw .unsupportedQuantization(node: node, detail: "weights of type \(constant.codes.elementType) (expected int8 or FP8 codes)")
        }
        guard constant.zeroPoints.allSatisfy({ $0 == 0 }) else {
            throw .unsupportedQuantization(node: node, detail: "weights with a nonzero zero point (the convolution core takes symmetric weights)")
        }
        guard constant.scales.count == 1 || (constant.axis == 0 && constant.scales.count == shape[0]) else {
            throw .unsupportedQuantization(node: node, detail: "weight scales per axis \(constant.axis) (expected per tensor or per output channel)")
        }
        let codes: [Int32]
        switch constant.codes.storage {
        case .bytes(let bytes): codes = precision == .int8 ? bytes.map { Int32(Int8(bitPattern: $0)) } : bytes.map { Int32($0) }
        default: throw .unsupportedQuantization(node: node, detail: "weight codes are not 8-bit")
        }
        let scales = constant.scales.count == 1 ? [Float](repeating: constant.scales[0], count: shape[0]) : constant.scales
        return LayerWeights(name: name, shape: shape, precision: precision, codes: codes, scales: scales, fromModel: true)
    }

    /// The same weights with their output-channel-first layout transposed from `[K_in, K_out]`
    /// (MatMul's B) — used before quantizing.
    static func transposed(_ values: [Float], rows: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for r in 0..<rows {
            for c in 0..<columns { out[c * rows + r] = values[r * columns + c] }
        }
        return out
    }
}
