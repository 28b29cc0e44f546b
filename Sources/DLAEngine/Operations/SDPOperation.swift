#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DLANumerics

/// `sdp` / `sdp` on an integer input: SDP's stages one after another (`SDP.run`), the reference
/// twin of `FusedSDPOperation`, which `planned` becomes when the program fits the fused pass.
/// On a floating input the file's `sdp` is a `FloatSDPOperation`.
struct SDPOperation: EngineOperator {
    let layer: SDPLayer

    /// Builds the integer layer in pipeline order (BS, BN, Y's ALU, activation, converter), each
    /// register checked against its width, or the FP32 layer on a floating input.
    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let r = d.attributes
        let input = try d.input(0, "input")
        let out = try d.output()
        if input.elementType.isFloatingPoint {
            return FloatSDPOperation(layer: try floatLayer(d, input: input, output: out))
        }
        guard input.sampleShape == out.sampleShape, input.elementType != .float32 else {
            throw .shapeMismatch(what: "operation '\(d.name)' output '\(out.name)' (same shape as the int input)", expected: input.sampleShape, found: out.sampleShape)
        }
        let channels = input.sampleShape.first ?? 1
        var before: [SDPStage] = []
        if let bias = try r.int32Weight("bias", count: channels) { before.append(.add(.perChannel(bias))) }
        if let scale = try r.int32Weight("scale", count: channels) {
            for value in scale where value < Int32(Int16.min) || value > Int32(Int16.max) {
                throw .invalidParameter(name: "operation '\(d.name)' scale", expected: "16-bit multipliers", found: "\(value)")
            }
            before.append(.multiply(.perChannel(scale), shift: try r.int("scale_shift", default: 0)))
        }
        // BS's result clipped to an intermediate tensor's range, then BN's bias and multiplier:
        // the second rounding of a layer whose quantized output is biased again.
        if d.operation.attribute("bs_clip") != nil {
            let bounds = try r.ints("bs_clip", count: 2, default: nil)
            guard let lower = Int32(exactly: bounds[0]), let upper = Int32(exactly: bounds[1]), lower <= upper else {
                throw .invalidParameter(name: "operation '\(d.name)' attribute 'bs_clip'", expected: "32-bit bounds, lower ≤ upper", found: "\(bounds)")
            }
            before.append(.clip(lower: lower, upper: upper))
        }
        if let bias = try r.int32Weight("bn_bias", count: channels) { before.append(.add(.perChannel(bias))) }
        if let scale = try r.int32Weight("bn_scale", count: channels) {
            for value in scale where value < Int32(Int16.min) || value > Int32(Int16.max) {
                throw .invalidParameter(name: "operation '\(d.name)' bn_scale", expected: "16-bit multipliers", found: "\(value)")
            }
            let shift = try r.int("bn_scale_shift", default: 0)
            guard (0...63).contains(shift) else {
                throw .invalidParameter(name: "operation '\(d.name)' bn_scale_shift", expected: "0...63", found: "\(shift)")
            }
            before.append(.multiply(.perChannel(scale), shift: shift))
        }
        var elementwise: SDPLayer.Elementwise?
        if d.operation.inputs.count > 1 {
            let operand = try d.input(1, "element-wise operand")
            guard operand.sampleShape == input.sampleShape, operand.elementType != .float32 else {
                throw .shapeMismatch(what: "operation '\(d.name)' element-wise operand '\(operand.name)'", expected: input.sampleShape, found: operand.sampleShape)
            }
            let operation: SDPLayer.ElementwiseOperation
            switch try r.string("ew_op", default: "add") {
            case "add": operation = .add
            case "max": operation = .maximum
            case let other: throw .invalidParameter(name: "operation '\(d.name)' ew_op", expected: "add or max", found: other)
            }
            let converter = try r.converter("ew", offset: Int(operand.quantization?.zeroPoint ?? 0))
            elementwise = SDPLayer.Elementwise(operation: operation, operandConverter: converter)
        }
        var after: [SDPStage] = []
        // Y's ALU with a per-channel operand: a bias in BN's output units, before the activation.
        if let bias = try r.int32Weight("ew_bias", count: channels) {
            guard elementwise == nil else {
                throw .invalidParameter(name: "operation '\(d.name)' ew_bias", expected: "no element-wise operand (Y's ALU takes one operand)", found: "both")
            }
            after.append(.add(.perChannel(bias)))
        }
        switch try r.string("activation", default: "none") {
        case "none": break
        case "relu": after.append(.relu)
        case "clip":
            let bounds = try r.ints("clip", count: 2, default: nil)
            for bound in bounds where Int32(exactly: bound) == nil {
                throw .invalidParameter(name: "operation '\(d.name)' attribute 'clip'", expected: "32-bit bounds", found: "\(bounds)")
            }
            after.append(.clip(lower: Int32(bounds[0]), upper: Int32(bounds[1])))
        case "prelu":
            let slope: SDPOperand
            if let slopes = try r.int32Weight("prelu_slope", count: channels) {
                slope = .perChannel(slopes)
            } else {
                slope = .constant(try r.int32("prelu_constant", default: 0))
            }
            after.append(.prelu(slope: slope, shift: try r.int("prelu_shift", default: 0)))
        case let function where function == "sigmoid" || function == "tanh":
            let f: (Double) -> Double = function == "sigmoid" ? { 1 / (1 + exp(-$0)) } : { tanh($0) }
            let table = try LookupTable.activation(f, inputFractionBits: try r.int("lut_input_fraction_bits", default: 8),
                                                   outputScale: Double(try r.float("lut_output_scale", default: 32767)))
            after.append(.lookup(table))
        case let other:
            throw .invalidParameter(name: "operation '\(d.name)' activation", expected: "none, relu, clip, prelu, sigmoid or tanh", found: other)
        }
        let converter: OutputConverter?
        switch out.elementType {
        case .int8:
            converter = try r.converter("cvt", offset: 0)
        case .int32: converter = nil
        case .float32, .float16, .fp8e4m3, .fp8e5m2:
            throw .invalidParameter(name: "operation '\(d.name)' output type", expected: "int8 or int32", found: out.elementType.rawValue)
        }
        return SDPOperation(layer: SDPLayer(before: before, elementwise: elementwise, after: after, converter: converter, outputType: .int8))
    }

    /// SDP on the floating pipeline: attributes as for the integer SDP, with float values
    /// (`bias`, `scale`, `prelu_slope` float32 weights; `clip` floats; `ew_scale`, `cvt_scale`
    /// floats). The output is rounded to the output tensor's type.
    static func floatLayer(_ d: OperationDefinition, input: ActivationSpec, output: ActivationSpec) throws(EngineError) -> FloatSDPLayer {
        let r = d.attributes
        guard input.sampleShape == output.sampleShape, output.elementType.isFloatingPoint else {
            throw .shapeMismatch(what: "operation '\(d.name)' output '\(output.name)' (floating, same shape)", expected: input.sampleShape, found: output.sampleShape)
        }
        let channels = input.sampleShape.first ?? 1
        var elementwise: (operation: SDPLayer.ElementwiseOperation, operandScale: Float)?
        if d.operation.inputs.count > 1 {
            let operand = d.tensors[d.operation.inputs[1]]
            guard operand.sampleShape == input.sampleShape, operand.elementType.isFloatingPoint else {
                throw .shapeMismatch(what: "operation '\(d.name)' element-wise operand '\(operand.name)' (floating)", expected: input.sampleShape, found: operand.sampleShape)
            }
            let operation: SDPLayer.ElementwiseOperation
            switch try r.string("ew_op", default: "add") {
            case "add": operation = .add
            case "max": operation = .maximum
            case let other: throw .invalidParameter(name: "operation '\(d.name)' ew_op", expected: "add or max", found: other)
            }
            elementwise = (operation, try r.float("ew_scale", default: 1))
        }
        let activation: FloatSDPLayer.Activation
        switch try r.string("activation", default: "none") {
        case "none": activation = .none
        case "relu": activation = .relu
        case "sigmoid": activation = .sigmoid
        case "tanh": activation = .tanh
        case "clip":
            let bounds = try r.floats("clip", count: 2)
            activation = .clip(lower: bounds[0], upper: bounds[1])
        case "prelu":
            if let slopes = try r.float32Weight("prelu_slope", count: channels) {
                activation = .prelu(slopes)
            } else {
                activation = .prelu([Float](repeating: try r.float("prelu_constant", default: 0), count: channels))
            }
        case let other:
            throw .invalidParameter(name: "operation '\(d.name)' activation", expected: "none, relu, clip, prelu, sigmoid or tanh", found: other)
        }
        return FloatSDPLayer(bias: try r.float32Weight("bias", count: channels), scale: try r.float32Weight("scale", count: channels),
                             elementwise: elementwise, activation: activation, outputScale: try r.float("cvt_scale", default: 1),
                             outputType: output.elementType, saturates: try r.int("cvt_saturate", default: 1) != 0)
    }

    var requirements: [(HardwareProfile.Capabilities, String)] { Self.requirements(layer) }

    static func requirements(_ layer: SDPLayer) -> [(HardwareProfile.Capabilities, String)] {
        (layer.elementwise == nil ? [] : [(.sdpElementwise, "element-wise operand (SDP_EW)")])
            + (layer.before + layer.after).compactMap { stage -> (HardwareProfile.Capabilities, String)? in
                if case .lookup = stage { (.sdpLookupTable, "LUT activation (SDP_LUT)") } else { nil }
            }
    }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? {
        layer.converter == nil ? .int32 : .int8
    }

    /// The fused pass when `FusedSDP.plan` says the program fits it.
    func planned(_ planning: OperatorPlanning) -> any EngineOperator {
        guard planning.fusesSDP, let program = FusedSDP.plan(layer, planning.operation, in: planning.model) else { return self }
        return FusedSDPOperation(layer: layer, program: program)
    }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        try Self.cost(layer, query)
    }

    static func cost(_ layer: SDPLayer, _ query: CostQuery) throws(EngineError) -> PlannedCost {
        let outputElements = query.outputElements
        let operand: Tensor<Int32>? = layer.elementwise == nil ? nil : try Tensor(shape: [outputElements], repeating: 0)
        return .fixed(try query.model.sdp(layer.parameters(operand: operand), elements: outputElements, channels: query.output.sampleShape.first ?? 1,
                                          fused: query.fedByConvolution, inputElementBytes: query.input.elementType.bytes))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let input = try operands[0].int32Values()
        var operand: Tensor<Int32>?
        if let elementwise = layer.elementwise, operands.count > 1 {
            let raw = try operands[1].int32Values()
            operand = try Tensor(shape: raw.shape, scalars: raw.scalars.map {
                elementwise.operandConverter.convert(Int64($0), to: Int32.min...Int32.max)
            })
        }
        let parameters = layer.parameters(operand: operand)
        if layer.converter == nil {
            let values = try SDP.runStages(input, parameters.stages, profile: context.profile, channelAxis: 1)
            return OperatorOutcome(value: .int32(try Tensor(shape: input.shape, scalars: values)))
        }
        return OperatorOutcome(value: .int8(try SDP.run(input, parameters, profile: context.profile, channelAxis: 1)))
    }
}

/// An integer SDP whose program runs in one fused pass (`FusedSDP`), on the general path and
/// straight between arena slots.
struct FusedSDPOperation: EngineOperator {
    let layer: SDPLayer
    let program: FusedSDP

    var requirements: [(HardwareProfile.Capabilities, String)] { SDPOperation.requirements(layer) }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { .int8 }

    func arenaStep(_ planning: ArenaPlanning) -> ArenaStepPlan {
        .kernel(FusedSDPKernel(program: program, inner: planning.input.sampleShape.dropFirst().reduce(1, *),
                               readsCodes: planning.input.elementType == .int8), scratchBytes: 0)
    }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        try SDPOperation.cost(layer, query)
    }

    /// The program (`FusedSDP.plan` checked the tensors' types and shapes) on its input and, when
    /// it adds one, its INT8 operand.
    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let shape = operands[0].shape
        if case .float32 = operands[0] {
            throw .invalidParameter(name: "operation '\(operation.pointee.name)' input type", expected: "int8 or int32", found: "float32")
        }
        guard shape.count >= 2, shape[1] == program.channels else {
            throw .shapeMismatch(what: "operation '\(operation.pointee.name)' input", expected: [-1, program.channels], found: shape)
        }
        var operand: [Int8] = []
        if program.addsOperand {
            guard operands.count > 1, case .int8(let y) = operands[1], y.shape == shape else {
                throw .invalidParameter(name: "operation '\(operation.pointee.name)' element-wise operand", expected: "int8 of shape \(shape)",
                                        found: operands.count > 1 ? "\(operands[1].typeName) of shape \(operands[1].shape)" : "none")
            }
            operand = y.scalars
        }
        let inner = shape.dropFirst(2).reduce(1, *)
        let count = operands[0].count
        let out = operand.withUnsafeBufferPointer { y in
            [Int8](unsafeUninitializedCapacity: count) { buffer, initialized in
                switch operands[0] {
                case .int32(let input):
                    input.scalars.withUnsafeBufferPointer { program.run($0, operand: y, inner: inner, into: buffer) }
                case .int8(let input):
                    input.scalars.withUnsafeBufferPointer { program.run($0, operand: y, inner: inner, into: buffer) }
                case .float32:
                    break
                }
                initialized = count
            }
        }
        return OperatorOutcome(value: .int8(try Tensor(shape: shape, scalars: out)))
    }
}

/// A fused SDP program straight between arena slots (an object, as `ConvolutionKernel`); a single
/// large row splits its channels over the threads.
final class FusedSDPKernel: ArenaKernel {
    let program: FusedSDP
    /// Elements per channel.
    let inner: Int
    /// The input is INT8 codes (an activation read from memory), not INT32 accumulators.
    let readsCodes: Bool

    init(program: FusedSDP, inner: Int, readsCodes: Bool) {
        self.program = program
        self.inner = inner
        self.readsCodes = readsCodes
    }

    func run(_ state: ArenaRunState, _ operation: UnsafePointer<EngineOperation>) -> (ConvolutionStrategy?, Double?) {
        let input = operation.pointee.inputs[0], output = operation.pointee.outputs[0]
        let count = state.batch * program.channels * inner
        var operand: UnsafeBufferPointer<Int8>?
        if program.addsOperand {
            operand = UnsafeBufferPointer(start: state.slot(operation.pointee.inputs[1], Int8.self, count: count), count: count)
        }
        let parts = state.batch == 1 ? min(state.threads, program.channels, count / FusedSDP.minimumElementsPerThread) : 1
        if parts > 1 {
            let program = self.program, inner = self.inner, channels = self.program.channels
            let source = readsCodes ? UnsafeSendable(FusedSDP.RowInput.codes(UnsafePointer(state.slot(input, Int8.self, count: count))))
                : UnsafeSendable(FusedSDP.RowInput.accumulators(UnsafePointer(state.slot(input, Int32.self, count: count))))
            let target = UnsafeSendable(state.slot(output, Int8.self, count: count)), addend = UnsafeSendable(operand?.baseAddress)
            HostKernels.parallel(parts) { part in
                program.run(channels: (channels * part / parts)..<(channels * (part + 1) / parts), source.value, operand: addend.value,
                            inner: inner, into: target.value)
            }
            return (nil, nil)
        }
        let target = UnsafeMutableBufferPointer(start: state.slot(output, Int8.self, count: count), count: count)
        if readsCodes {
            program.run(UnsafeBufferPointer(start: state.slot(input, Int8.self, count: count), count: count), operand: operand,
                        inner: inner, into: target)
        } else {
            program.run(UnsafeBufferPointer(start: state.slot(input, Int32.self, count: count), count: count), operand: operand,
                        inner: inner, into: target)
        }
        return (nil, nil)
    }
}

/// `sdp` / `sdp` on a floating input: the FP32 pipeline (`SDP.runFloat`).
struct FloatSDPOperation: EngineOperator {
    let layer: FloatSDPLayer

    var requirements: [(HardwareProfile.Capabilities, String)] {
        (layer.elementwise == nil ? [] : [(.sdpElementwise, "element-wise operand (SDP_EW)")])
            + (layer.activation.usesLookupTable ? [(.sdpLookupTable, "LUT activation (SDP_LUT)")] : [])
    }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { nil }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        let outputElements = query.outputElements
        return .fixed(try query.model.sdp(try layer.costEquivalent(elements: outputElements), elements: outputElements,
                                          channels: query.output.sampleShape.first ?? 1, fused: query.fedByConvolution,
                                          inputElementBytes: query.input.elementType.bytes))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let input = try operands[0].floats(of: operation)
        let operand = operands.count > 1 ? try operands[1].floats(of: operation) : nil
        return OperatorOutcome(value: .float32(try SDP.runFloat(layer, input, operand: operand)))
    }
}
