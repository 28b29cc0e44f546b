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
        let converted = values.map { Int8(truncatingIfNeeded: parameters.converter.convert(Int64($0), to: range)) }
        return try Tensor(shape: input.shape, scalars: converted)
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
        func saturate(_ x: Int64) -> Int32 { FixedPoint.saturate(x, to: Int32.min...Int32.max) }
        switch stage {
        case .add(let operand):
            let b = try expand(operand, shape: shape, channels: channels, inner: inner, count: values.count)
            for i in values.indices { values[i] = saturate(Int64(values[i]) + Int64(b(i))) }
        case .maximum(let operand):
            let b = try expand(operand, shape: shape, channels: channels, inner: inner, count: values.count)
            for i in values.indices { values[i] = max(values[i], b(i)) }
        case .minimum(let operand):
            let b = try expand(operand, shape: shape, channels: channels, inner: inner, count: values.count)
            for i in values.indices { values[i] = min(values[i], b(i)) }
        case .multiply(let operand, let shift):
            try EngineError.require("SDP multiplier shift", shift, in: 0...63)
            let m = try expand(operand, shape: shape, channels: channels, inner: inner, count: values.count)
            for i in values.indices {
                values[i] = saturate(FixedPoint.roundHalfAwayShiftRight(Int64(values[i]) * Int64(m(i)), by: shift))
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
            let k = try expand(slope, shape: shape, channels: channels, inner: inner, count: values.count)
            for i in values.indices where values[i] < 0 {
                values[i] = saturate(FixedPoint.roundHalfAwayShiftRight(Int64(values[i]) * Int64(k(i)), by: shift))
            }
        case .lookup(let table):
            for i in values.indices { values[i] = Int32(table.evaluate(Int64(values[i]))) }
        }
    }

    /// The operand as a function of the element index.
    private static func expand(_ operand: SDPOperand, shape: [Int], channels: Int, inner: Int, count: Int) throws(EngineError) -> (Int) -> Int32 {
        switch operand {
        case .constant(let value):
            return { _ in value }
        case .perChannel(let values):
            guard values.count == channels else {
                throw .elementCountMismatch(what: "SDP per-channel operand", expected: channels, found: values.count)
            }
            return { values[($0 / inner) % channels] }
        case .elementwise(let tensor):
            guard tensor.shape == shape else {
                throw .shapeMismatch(what: "SDP element-wise operand", expected: shape, found: tensor.shape)
            }
            let scalars = tensor.scalars
            return { scalars[$0] }
        }
    }
}
