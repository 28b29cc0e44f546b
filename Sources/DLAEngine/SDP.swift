#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DLANumerics

/// The single data-point processor: per-element post-processing of convolution results (or of a
/// tensor read from memory), then conversion to the output type.
///
/// Integer semantics: each stage computes in wide integers and saturates its result to INT32, the
/// width of SDP's pipe (lut-programming.rst: "SDP pipeline is 32bits"); multiplier and PReLU
/// truncations round half away from zero like every NVDLA truncation (precision.rst).
public enum SDP {
    /// Runs `parameters` over a `[C, H, W]` (or `[batch, features]`, channels on the last axis)
    /// tensor of INT32 values.
    ///
    /// - Parameter channelAxis: which axis per-channel operands index: 0 for feature maps, 1 for a
    ///   fully connected `[batch, features]` result.
    public static func run(
        _ input: Tensor<Int32>, _ parameters: SDPParameters, profile: HardwareProfile, channelAxis: Int = 0
    ) throws(EngineError) -> Tensor<Int8> {
        let values = try runStages(input, parameters.stages, profile: profile, channelAxis: channelAxis)
        let range = parameters.outputType.range
        let converter = parameters.converter
        let converted = values.map { Int8(truncatingIfNeeded: convert($0, converter, to: range)) }
        return try Tensor(shape: input.shape, scalars: converted)
    }

    /// `OutputConverter.convert` for INT32 inputs, in Int64: |x − offset| < 2^32 and |scale| ≤ 2^15,
    /// so the product stays below 2^47 and no wider type is needed. Same result bit for bit (tested).
    @inline(__always)
    static func convert(_ x: Int32, _ converter: OutputConverter, to range: ClosedRange<Int32>) -> Int32 {
        let product = (Int64(x) - Int64(converter.offset)) * Int64(converter.scale)
        let shifted = IntegerArithmetic.roundHalfAwayShiftRight(product, by: Int(converter.shift))
        return Int32(clamping: min(max(shifted, Int64(range.lowerBound)), Int64(range.upperBound)))
    }

    /// The stages alone, for results that stay INT32 (a graph output read back dequantized).
    public static func runStages(
        _ input: Tensor<Int32>, _ stages: [SDPStage], profile: HardwareProfile, channelAxis: Int = 0
    ) throws(EngineError) -> [Int32] {
        try validate(stages, profile: profile)
        guard channelAxis >= 0, channelAxis < max(input.shape.count, 1) else {
            throw .invalidParameter(name: "SDP channel axis", expected: "0..<\(input.shape.count)", found: "\(channelAxis)")
        }
        let channels = input.shape.isEmpty ? 1 : input.shape[channelAxis]
        let inner = input.shape.dropFirst(channelAxis + 1).reduce(1, *)
        var values = input.scalars
        for stage in stages {
            try apply(stage, to: &values, shape: input.shape, channels: channels, inner: inner)
        }
        return values
    }

    /// Fails naming the capability a profile lacks (no LUT on nv_small, no element-wise operand).
    public static func validate(_ stages: [SDPStage], profile: HardwareProfile) throws(EngineError) {
        for stage in stages {
            switch stage {
            case .lookup:
                guard profile.capabilities.contains(.sdpLookupTable) else {
                    throw .unsupported(unit: "SDP", capability: "LUT activation (SDP_LUT)", profile: profile.name)
                }
            case .add(let operand), .maximum(let operand), .minimum(let operand), .multiply(let operand, _), .prelu(let operand, _):
                if operand.isElementwise && !profile.capabilities.contains(.sdpElementwise) {
                    throw .unsupported(unit: "SDP", capability: "element-wise operand (SDP_EW)", profile: profile.name)
                }
            case .relu, .clip:
                break
            }
        }
    }

    private static func apply(_ stage: SDPStage, to values: inout [Int32], shape: [Int], channels: Int, inner: Int) throws(EngineError) {
        func saturate(_ x: Int64) -> Int32 { IntegerArithmetic.saturateToInt32(x) }
        switch stage {
        case .add(let operand):
            try combine(&values, operand, shape: shape, channels: channels, inner: inner) { saturate(Int64($0) + Int64($1)) }
        case .maximum(let operand):
            try combine(&values, operand, shape: shape, channels: channels, inner: inner) { max($0, $1) }
        case .minimum(let operand):
            try combine(&values, operand, shape: shape, channels: channels, inner: inner) { min($0, $1) }
        case .multiply(let operand, let shift):
            try EngineError.require("SDP multiplier shift", shift, in: 0...63)
            try combine(&values, operand, shape: shape, channels: channels, inner: inner) {
                saturate(IntegerArithmetic.roundHalfAwayShiftRight(Int64($0) * Int64($1), by: shift))
            }
        case .relu:
            for i in values.indices where values[i] < 0 { values[i] = 0 }
        case .clip(let lower, let upper):
            guard lower <= upper else {
                throw .invalidParameter(name: "SDP clip", expected: "lower ≤ upper", found: "\(lower)...\(upper)")
            }
            for i in values.indices { values[i] = min(max(values[i], lower), upper) }
        case .prelu(let slope, let shift):
            try EngineError.require("SDP PReLU shift", shift, in: 0...63)
            try combine(&values, slope, shape: shape, channels: channels, inner: inner) { x, k in
                x < 0 ? saturate(IntegerArithmetic.roundHalfAwayShiftRight(Int64(x) * Int64(k), by: shift)) : x
            }
        case .lookup(let table):
            for i in values.indices { values[i] = Int32(table.evaluate(Int64(values[i]))) }
        }
    }

    /// `values[i] = f(values[i], operand at i)`, looping per channel so per-channel operands are
    /// read once per run of `inner` elements.
    @inline(__always)
    private static func combine(_ values: inout [Int32], _ operand: SDPOperand, shape: [Int], channels: Int, inner: Int,
                                _ f: (Int32, Int32) -> Int32) throws(EngineError) {
        switch operand {
        case .constant(let value):
            for i in values.indices { values[i] = f(values[i], value) }
        case .perChannel(let perChannel):
            guard perChannel.count == channels else {
                throw .elementCountMismatch(what: "SDP per-channel operand", expected: channels, found: perChannel.count)
            }
            values.withUnsafeMutableBufferPointer { v in
                perChannel.withUnsafeBufferPointer { p in
                    var i = 0
                    while i < v.count {
                        for c in 0..<channels {
                            let k = p[c]
                            for _ in 0..<inner {
                                v[i] = f(v[i], k)
                                i += 1
                            }
                        }
                    }
                }
            }
        case .elementwise(let tensor):
            guard tensor.shape == shape else {
                throw .shapeMismatch(what: "SDP element-wise operand", expected: shape, found: tensor.shape)
            }
            for i in values.indices { values[i] = f(values[i], tensor.scalars[i]) }
        }
    }

    /// The FP32 pipeline of a `FloatSDPLayer` on a `[batch, C, ...]` tensor: bias, scale, the
    /// element-wise operand, the activation, then the output multiplier and rounding to the
    /// output type.
    static func runFloat(_ layer: FloatSDPLayer, _ input: Tensor<Float>, operand: Tensor<Float>?) throws(EngineError) -> Tensor<Float> {
        let channels = input.shape.count > 1 ? input.shape[1] : 1
        let inner = input.shape.dropFirst(2).reduce(1, *)
        if let operand, operand.shape != input.shape {
            throw .shapeMismatch(what: "SDP element-wise operand", expected: input.shape, found: operand.shape)
        }
        var out = input.scalars
        for i in out.indices {
            let c = (i / inner) % channels
            var x = out[i]
            if let bias = layer.bias { x += bias[c] }
            if let scale = layer.scale { x *= scale[c] }
            if let (operation, operandScale) = layer.elementwise, let operand {
                let y = operand.scalars[i] * operandScale
                x = operation == .add ? x + y : max(x, y)
            }
            switch layer.activation {
            case .none: break
            case .relu: x = max(x, 0)
            case .clip(let lower, let upper): x = min(max(x, lower), upper)
            case .prelu(let slopes): if x < 0 { x *= slopes[c] }
            case .sigmoid: x = 1 / (1 + expf(-x))
            case .tanh: x = tanhf(x)
            }
            out[i] = layer.outputType.round(x * layer.outputScale, saturating: layer.saturates)
        }
        return try Tensor(shape: input.shape, scalars: out)
    }
}
