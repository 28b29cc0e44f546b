#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DLAFormat
import DLANumerics

/// Builds the engine's typed operations from a loaded `.dla` graph, whose operations are generic
/// (unit, type string, typed attributes, weight references). The vocabulary it accepts is the
/// contract with the compiler; docs/EMULATOR.md ("Operation vocabulary") lists it.
///
/// Dimension 0 of every activation tensor is the batch; the rest is one sample's shape.
public enum ModelAdapter {
    public static func compile(_ model: DLALoadedModel) throws(EngineError) -> CompiledModel {
        let graph = model.graph
        var tensors: [ActivationSpec] = []
        for spec in graph.tensors {
            tensors.append(try activationSpec(spec))
        }
        var operations: [EngineOperation] = []
        for operation in graph.operations {
            let reader = AttributeReader(operation: operation, weights: model.weights)
            for id in operation.inputs + operation.outputs where id < 0 || id >= tensors.count {
                throw .invalidParameter(name: "operation '\(operation.name)' tensor id", expected: "0..<\(tensors.count)", found: "\(id)")
            }
            guard !operation.inputs.isEmpty, operation.outputs.count == 1 else {
                throw .invalidParameter(name: "operation '\(operation.name)'", expected: "at least one input and exactly one output",
                                        found: "\(operation.inputs.count) inputs, \(operation.outputs.count) outputs")
            }
            operations.append(try typed(operation, reader: reader, tensors: tensors))
        }
        for id in graph.inputs + graph.outputs where id < 0 || id >= tensors.count {
            throw .invalidParameter(name: "graph input/output tensor id", expected: "0..<\(tensors.count)", found: "\(id)")
        }
        guard !graph.inputs.isEmpty else {
            throw .invalidParameter(name: "graph inputs", expected: "at least one", found: "none")
        }
        return CompiledModel(name: model.metadata.name, targetProfile: model.metadata.targetProfile, tensors: tensors,
                             inputs: graph.inputs, outputs: graph.outputs, operations: operations)
    }

    static func activationSpec(_ spec: DLATensorSpec) throws(EngineError) -> ActivationSpec {
        guard let batch = spec.shape.first, batch == DLATensorSpec.symbolicDimension || batch >= 1 else {
            throw .shapeMismatch(what: "tensor '\(spec.name)' (dimension 0 is the batch)", expected: [-1], found: spec.shape.map { Int($0) })
        }
        let sample = spec.shape.dropFirst().map { Int(truncatingIfNeeded: $0) }
        let type: ActivationSpec.ElementType
        switch spec.dataType {
        case .int8: type = .int8
        case .int32: type = .int32
        case .float32: type = .float32
        case .float16: type = .float16
        case .fp8e4m3: type = .fp8e4m3
        case .fp8e5m2: type = .fp8e5m2
        case .uint8:
            throw .unsupported(unit: "executor", capability: "uint8 activations (tensor '\(spec.name)'; shift them to int8 with zero point − 128)", profile: "any")
        }
        let quantization: ActivationQuantization?
        switch spec.quantization {
        case .none: quantization = nil
        case .perTensor(let scale, let zeroPoint): quantization = ActivationQuantization(scale: scale, zeroPoint: zeroPoint)
        case .perChannel:
            throw .invalidParameter(name: "tensor '\(spec.name)' quantization", expected: "per-tensor for activations", found: "per-channel")
        }
        return ActivationSpec(name: spec.name, sampleShape: sample, elementType: type, quantization: quantization)
    }

    private static func typed(_ op: DLAOperation, reader r: AttributeReader, tensors: [ActivationSpec]) throws(EngineError) -> EngineOperation {
        func tensor(_ position: Int, _ role: String) throws(EngineError) -> ActivationSpec {
            let ids = position < op.inputs.count ? op.inputs : []
            guard position < ids.count else {
                throw .invalidParameter(name: "operation '\(op.name)' \(role)", expected: "input \(position)", found: "\(op.inputs.count) inputs")
            }
            return tensors[ids[position]]
        }
        func output() throws(EngineError) -> ActivationSpec {
            guard op.outputs.count == 1 else {
                throw .invalidParameter(name: "operation '\(op.name)' outputs", expected: "1", found: "\(op.outputs.count)")
            }
            return tensors[op.outputs[0]]
        }
        func make(_ unit: ExecutionUnit, _ kind: EngineOperationKind) -> EngineOperation {
            EngineOperation(name: op.name, unit: unit, type: op.type, kind: kind, inputs: op.inputs, outputs: op.outputs)
        }
        func expectOutput(_ spec: ActivationSpec, shape: [Int], type: ActivationSpec.ElementType) throws(EngineError) {
            guard spec.sampleShape == shape, spec.elementType == type else {
                throw .shapeMismatch(what: "operation '\(op.name)' output '\(spec.name)' (\(type.rawValue) expected, \(spec.elementType.rawValue) found)", expected: shape, found: spec.sampleShape)
            }
        }

        switch (op.unit, op.type) {
        case (.convolution, "conv"):
            let input = try tensor(0, "input")
            guard input.sampleShape.count == 3, input.elementType != .int32, input.elementType != .float32 else {
                throw .shapeMismatch(what: "operation '\(op.name)' input (int8, fp16 or fp8 [C, H, W])", expected: [-1, -1, -1], found: input.sampleShape)
            }
            let weightShape = try r.weightShape("weight")
            guard weightShape.count == 4 else {
                throw .shapeMismatch(what: "operation '\(op.name)' weight [K, C/groups, R, S]", expected: [-1, -1, -1, -1], found: weightShape)
            }
            let stride = try r.ints("stride", count: 2, default: [1, 1])
            let padding = try r.ints("padding", count: 4, default: [0, 0, 0, 0])
            let dilation = try r.ints("dilation", count: 2, default: [1, 1])
            let groups = try r.int("groups", default: 1)
            let parameters = ConvolutionParameters(
                inputChannels: input.sampleShape[0], inputHeight: input.sampleShape[1], inputWidth: input.sampleShape[2],
                outputChannels: weightShape[0], kernelHeight: weightShape[2], kernelWidth: weightShape[3],
                strideY: stride[0], strideX: stride[1], padTop: padding[0], padBottom: padding[1], padLeft: padding[2], padRight: padding[3],
                dilationY: dilation[0], dilationX: dilation[1], groups: groups)
            let geometry = try parameters.validated()
            guard weightShape[1] == geometry.channelsPerGroup else {
                throw .shapeMismatch(what: "operation '\(op.name)' weight", expected: [weightShape[0], geometry.channelsPerGroup, weightShape[2], weightShape[3]], found: weightShape)
            }
            if input.elementType.isFloatingPoint {
                let decoded = try r.floatWeight("weight")
                try expectOutput(try output(), shape: [parameters.outputChannels, geometry.outputHeight, geometry.outputWidth], type: .float32)
                return make(.convolution, .floatConvolution(parameters, try Tensor(shape: decoded.shape, scalars: decoded.values), decoded.precision))
            }
            let pad = try r.int("pad_value", default: Int(input.quantization?.zeroPoint ?? 0))
            try EngineError.require("operation '\(op.name)' pad_value", pad, in: -128...127)
            let weights = try Int8ConvolutionWeights(convolution: parameters, values: try r.int8Weight("weight").values)
            try expectOutput(try output(), shape: [parameters.outputChannels, geometry.outputHeight, geometry.outputWidth], type: .int32)
            return make(.convolution, .convolution(parameters, weights, paddingValue: Int8(pad), truncation: try r.int("truncate", default: 0)))

        case (.convolution, "fc"):
            let input = try tensor(0, "input")
            guard input.elementType != .int32, input.elementType != .float32 else {
                throw .invalidParameter(name: "operation '\(op.name)' input type", expected: "int8, fp16 or fp8", found: input.elementType.rawValue)
            }
            let features = input.sampleShape.reduce(1, *)
            if input.elementType.isFloatingPoint {
                let decoded = try r.floatWeight("weight")
                guard decoded.shape.count == 2, decoded.shape[1] == features else {
                    throw .shapeMismatch(what: "operation '\(op.name)' weight [outputs, inputs]", expected: [decoded.shape.first ?? -1, features], found: decoded.shape)
                }
                try expectOutput(try output(), shape: [decoded.shape[0]], type: .float32)
                return make(.convolution, .floatFullyConnected(try Tensor(shape: decoded.shape, scalars: decoded.values), decoded.precision))
            }
            let weight = try r.int8Weight("weight")
            guard weight.shape.count == 2, weight.shape[1] == features else {
                throw .shapeMismatch(what: "operation '\(op.name)' weight [outputs, inputs]", expected: [weight.shape.first ?? -1, features], found: weight.shape)
            }
            let weights = try Int8ConvolutionWeights(outputChannels: weight.shape[0], reductionLength: features, values: weight.values)
            try expectOutput(try output(), shape: [weight.shape[0]], type: .int32)
            return make(.convolution, .fullyConnected(weights, truncation: try r.int("truncate", default: 0)))

        case (.sdp, "sdp"):
            let input = try tensor(0, "input")
            let out = try output()
            if input.elementType.isFloatingPoint {
                return make(.sdp, .floatSDP(try floatSDP(op, r, input: input, output: out, tensors: tensors)))
            }
            guard input.sampleShape == out.sampleShape, input.elementType != .float32 else {
                throw .shapeMismatch(what: "operation '\(op.name)' output '\(out.name)' (same shape as the int input)", expected: input.sampleShape, found: out.sampleShape)
            }
            let channels = input.sampleShape.first ?? 1
            var before: [SDPStage] = []
            if let bias = try r.int32Weight("bias", count: channels) { before.append(.add(.perChannel(bias))) }
            if let scale = try r.int32Weight("scale", count: channels) {
                for value in scale where value < Int32(Int16.min) || value > Int32(Int16.max) {
                    throw .invalidParameter(name: "operation '\(op.name)' scale", expected: "16-bit multipliers", found: "\(value)")
                }
                before.append(.multiply(.perChannel(scale), shift: try r.int("scale_shift", default: 0)))
            }
            // BS's result clipped to an intermediate tensor's range, then BN's bias and multiplier:
            // the second rounding of a layer whose quantized output is biased again.
            if op.attribute("bs_clip") != nil {
                let bounds = try r.ints("bs_clip", count: 2, default: nil)
                guard let lower = Int32(exactly: bounds[0]), let upper = Int32(exactly: bounds[1]), lower <= upper else {
                    throw .invalidParameter(name: "operation '\(op.name)' attribute 'bs_clip'", expected: "32-bit bounds, lower ≤ upper", found: "\(bounds)")
                }
                before.append(.clip(lower: lower, upper: upper))
            }
            if let bias = try r.int32Weight("bn_bias", count: channels) { before.append(.add(.perChannel(bias))) }
            if let scale = try r.int32Weight("bn_scale", count: channels) {
                for value in scale where value < Int32(Int16.min) || value > Int32(Int16.max) {
                    throw .invalidParameter(name: "operation '\(op.name)' bn_scale", expected: "16-bit multipliers", found: "\(value)")
                }
                let shift = try r.int("bn_scale_shift", default: 0)
                guard (0...63).contains(shift) else {
                    throw .invalidParameter(name: "operation '\(op.name)' bn_scale_shift", expected: "0...63", found: "\(shift)")
                }
                before.append(.multiply(.perChannel(scale), shift: shift))
            }
            var elementwise: SDPLayer.Elementwise?
            if op.inputs.count > 1 {
                let operand = try tensor(1, "element-wise operand")
                guard operand.sampleShape == input.sampleShape, operand.elementType != .float32 else {
                    throw .shapeMismatch(what: "operation '\(op.name)' element-wise operand '\(operand.name)'", expected: input.sampleShape, found: operand.sampleShape)
                }
                let operation: SDPLayer.ElementwiseOperation
                switch try r.string("ew_op", default: "add") {
                case "add": operation = .add
                case "max": operation = .maximum
                case let other: throw .invalidParameter(name: "operation '\(op.name)' ew_op", expected: "add or max", found: other)
                }
                let converter = try r.converter("ew", offset: Int(operand.quantization?.zeroPoint ?? 0))
                elementwise = SDPLayer.Elementwise(operation: operation, operandConverter: converter)
            }
            var after: [SDPStage] = []
            // Y's ALU with a per-channel operand: a bias in BN's output units, before the activation.
            if let bias = try r.int32Weight("ew_bias", count: channels) {
                guard elementwise == nil else {
                    throw .invalidParameter(name: "operation '\(op.name)' ew_bias", expected: "no element-wise operand (Y's ALU takes one operand)", found: "both")
                }
                after.append(.add(.perChannel(bias)))
            }
            switch try r.string("activation", default: "none") {
            case "none": break
            case "relu": after.append(.relu)
            case "clip":
                let bounds = try r.ints("clip", count: 2, default: nil)
                for bound in bounds where Int32(exactly: bound) == nil {
                    throw .invalidParameter(name: "operation '\(op.name)' attribute 'clip'", expected: "32-bit bounds", found: "\(bounds)")
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
                throw .invalidParameter(name: "operation '\(op.name)' activation", expected: "none, relu, clip, prelu, sigmoid or tanh", found: other)
            }
            let converter: OutputConverter?
            switch out.elementType {
            case .int8:
                converter = try r.converter("cvt", offset: 0)
            case .int32: converter = nil
            case .float32, .float16, .fp8e4m3, .fp8e5m2:
                throw .invalidParameter(name: "operation '\(op.name)' output type", expected: "int8 or int32", found: out.elementType.rawValue)
            }
            return make(.sdp, .sdp(SDPLayer(before: before, elementwise: elementwise, after: after, converter: converter, outputType: .int8)))

        case (.pdp, "pool"):
            let input = try tensor(0, "input")
            guard input.sampleShape.count == 3, input.elementType != .int32 else {
                throw .shapeMismatch(what: "operation '\(op.name)' input (int8 or floating [C, H, W])", expected: [-1, -1, -1], found: input.sampleShape)
            }
            let method: PDPParameters.Method
            switch try r.string("method", default: "max") {
            case "max": method = .maximum
            case "min": method = .minimum
            case "avg": method = .average
            case let other: throw .invalidParameter(name: "operation '\(op.name)' method", expected: "max, min or avg", found: other)
            }
            let kernel = try r.ints("kernel", count: 2, default: nil)
            let stride = try r.ints("stride", count: 2, default: kernel)
            let padding = try r.ints("padding", count: 4, default: [0, 0, 0, 0])
            let p = PDPParameters(method: method, kernelHeight: kernel[0], kernelWidth: kernel[1], strideY: stride[0], strideX: stride[1],
                                  padTop: padding[0], padBottom: padding[1], padLeft: padding[2], padRight: padding[3],
                                  paddingValue: try r.int32("pad_value", default: Int(input.quantization?.zeroPoint ?? 0)))
            let (oh, ow) = try p.outputSize(height: input.sampleShape[1], width: input.sampleShape[2])
            let out = try output()
            if input.elementType.isFloatingPoint {
                guard out.elementType.isFloatingPoint, out.sampleShape == [input.sampleShape[0], oh, ow] else {
                    throw .shapeMismatch(what: "operation '\(op.name)' output '\(out.name)' (floating)", expected: [input.sampleShape[0], oh, ow], found: out.sampleShape)
                }
                return make(.pdp, .floatPool(p))
            }
            try expectOutput(out, shape: [input.sampleShape[0], oh, ow], type: .int8)
            return make(.pdp, .pool(p))

        case (.cdp, "lrn"):
            let input = try tensor(0, "input")
            let out = try output()
            guard let inQ = input.quantization, let outQ = out.quantization, inQ.zeroPoint == 0, outQ.zeroPoint == 0,
                  input.elementType == .int8, input.sampleShape.count == 3 else {
                throw .invalidParameter(name: "operation '\(op.name)' tensors", expected: "int8 [C, H, W] in and out with zero point 0", found: "\(input.name), \(out.name)")
            }
            try expectOutput(out, shape: input.sampleShape, type: .int8)
            let size = try r.int("size", default: 5)
            let fractionBits = 14
            let table = try LookupTable.localResponseNormalization(
                alpha: Double(try r.float("alpha", default: 1e-4)), beta: Double(try r.float("beta", default: 0.75)),
                k: Double(try r.float("k", default: 1)), localSize: size, inputScale: Double(inQ.scale),
                outputFractionBits: fractionBits, loRangeLog2: 17)
            guard let multiplier = FixedPointScale.approximating(Double(inQ.scale) / Double(outQ.scale) / Double(1 << fractionBits)) else {
                throw .invalidParameter(name: "operation '\(op.name)' scales", expected: "a representable input/output scale ratio", found: "\(inQ.scale)/\(outQ.scale)")
            }
            return make(.cdp, .localResponseNormalization(CDPParameters(localSize: size, lookupTable: table,
                                                                        outputConverter: OutputConverter(offset: 0, multiplier: multiplier))))

        case (.rubik, "transpose"):
            let input = try tensor(0, "input")
            let permutation = try r.ints("perm", count: input.sampleShape.count + 1, default: nil)
            guard permutation.first == 0, permutation.sorted() == Array(0...input.sampleShape.count) else {
                throw .invalidParameter(name: "operation '\(op.name)' perm", expected: "a permutation of all axes keeping the batch (axis 0) first", found: "\(permutation)")
            }
            try expectOutput(try output(), shape: permutation.dropFirst().map { input.sampleShape[$0 - 1] }, type: input.elementType)
            return make(.rubik, .transpose(permutation: permutation))

        case (.rubik, "contract"):
            let input = try tensor(0, "input")
            let stride = try r.ints("stride", count: 2, default: nil)
            try EngineError.require("operation '\(op.name)' stride[0]", stride[0], in: 1...8)
            try EngineError.require("operation '\(op.name)' stride[1]", stride[1], in: 1...8)
            let phases = stride[0] * stride[1]
            guard input.elementType == .int8, input.sampleShape.count == 3, input.sampleShape[0] % phases == 0 else {
                throw .shapeMismatch(what: "operation '\(op.name)' input (int8 [C, H, W], C a multiple of \(phases))", expected: [-1, -1, -1], found: input.sampleShape)
            }
            try expectOutput(try output(), shape: [input.sampleShape[0] / phases, input.sampleShape[1] * stride[0], input.sampleShape[2] * stride[1]],
                             type: .int8)
            return make(.rubik, .contract(strideY: stride[0], strideX: stride[1]))

        case (.bdma, "concat"):
            let first = try tensor(0, "input")
            let axis = try r.int("axis", default: 0)
            guard first.elementType != .int32, (0..<first.sampleShape.count).contains(axis) else {
                throw .invalidParameter(name: "operation '\(op.name)' axis", expected: "an axis of the int8 or floating inputs' \(first.sampleShape.count) sample axes",
                                        found: "\(axis) (\(first.elementType.rawValue))")
            }
            // BDMA copies INT8 codes, or floating values (FP16/FP8/FP32 all carried as float32).
            func sameKind(_ type: ActivationSpec.ElementType) -> Bool {
                first.elementType.isFloatingPoint ? type.isFloatingPoint : type == first.elementType
            }
            let kind = first.elementType.isFloatingPoint ? "floating" : first.elementType.rawValue
            var shape = first.sampleShape
            shape[axis] = 0
            for position in op.inputs.indices {
                let part = try tensor(position, "input")
                var expected = first.sampleShape
                expected[axis] = part.sampleShape.count == expected.count ? part.sampleShape[axis] : -1
                guard part.sampleShape == expected, sameKind(part.elementType) else {
                    throw .shapeMismatch(what: "operation '\(op.name)' input '\(part.name)' (\(kind) expected, \(part.elementType.rawValue) found)",
                                         expected: expected, found: part.sampleShape)
                }
                shape[axis] += part.sampleShape[axis]
            }
            let out = try output()
            guard out.sampleShape == shape, sameKind(out.elementType) else {
                throw .shapeMismatch(what: "operation '\(op.name)' output '\(out.name)' (\(kind) expected, \(out.elementType.rawValue) found)",
                                     expected: shape, found: out.sampleShape)
            }
            return make(.bdma, .concatenate(axis: axis + 1))

        case (.bdma, "slice"):
            let input = try tensor(0, "input")
            let axis = try r.int("axis", default: 0)
            let start = try r.int("start", default: 0), end = try r.int("end", default: nil)
            guard (0..<input.sampleShape.count).contains(axis), 0 <= start, start <= end, end <= input.sampleShape[axis] else {
                throw .invalidParameter(name: "operation '\(op.name)' slice", expected: "0 ≤ start ≤ end ≤ the size of a sample axis of \(input.sampleShape)",
                                        found: "axis \(axis), \(start)..<\(end)")
            }
            var shape = input.sampleShape
            shape[axis] = end - start
            try expectOutput(try output(), shape: shape, type: input.elementType)
            return make(.bdma, .slice(axis: axis + 1, range: start..<end))

        case (.cpu, "reshape"), (.cpu, "flatten"):
            let input = try tensor(0, "input")
            let out = try output()
            guard input.sampleShape.reduce(1, *) == out.sampleShape.reduce(1, *), input.elementType == out.elementType else {
                throw .shapeMismatch(what: "operation '\(op.name)' reshape of '\(input.name)' to '\(out.name)'", expected: input.sampleShape, found: out.sampleShape)
            }
            return make(.cpu, .reshape)

        case (.cpu, "softmax"), (.cpu, "quantize"):
            let input = try tensor(0, "input")
            let out = try output()
            guard out.elementType != .int32 else {
                throw .invalidParameter(name: "operation '\(op.name)' output '\(out.name)' type", expected: "int8 or a floating type", found: out.elementType.rawValue)
            }
            if op.type == "softmax", input.sampleShape.isEmpty {
                throw .shapeMismatch(what: "operation '\(op.name)' input (a sample axis to normalize, not the batch)", expected: [-1], found: input.sampleShape)
            }
            try expectOutput(out, shape: input.sampleShape, type: out.elementType)
            return make(.cpu, op.type == "softmax" ? .softmax : .quantize)
        case (.cpu, "dequantize"):
            let input = try tensor(0, "input")
            try expectOutput(try output(), shape: input.sampleShape, type: .float32)
            return make(.cpu, .dequantize)

        default:
            throw .invalidParameter(name: "operation '\(op.name)'", expected: "a known unit/type (see docs/EMULATOR.md, Operation vocabulary)", found: "\(op.unit) \(op.type)")
        }
    }
}

extension ModelAdapter {
    /// SDP on the floating pipeline: attributes as for the integer SDP, with float values
    /// (`bias`, `scale`, `prelu_slope` float32 weights; `clip` floats; `ew_scale`, `cvt_scale`
    /// floats). The output is rounded to the output tensor's type.
    static func floatSDP(_ op: DLAOperation, _ r: AttributeReader, input: ActivationSpec, output: ActivationSpec,
                         tensors: [ActivationSpec]) throws(EngineError) -> FloatSDPLayer {
        guard input.sampleShape == output.sampleShape, output.elementType.isFloatingPoint else {
            throw .shapeMismatch(what: "operation '\(op.name)' output '\(output.name)' (floating, same shape)", expected: input.sampleShape, found: output.sampleShape)
        }
        let channels = input.sampleShape.first ?? 1
        var elementwise: (operation: SDPLayer.ElementwiseOperation, operandScale: Float)?
        if op.inputs.count > 1 {
            let operand = tensors[op.inputs[1]]
            guard operand.sampleShape == input.sampleShape, operand.elementType.isFloatingPoint else {
                throw .shapeMismatch(what: "operation '\(op.name)' element-wise operand '\(operand.name)' (floating)", expected: input.sampleShape, found: operand.sampleShape)
            }
            let operation: SDPLayer.ElementwiseOperation
            switch try r.string("ew_op", default: "add") {
            case "add": operation = .add
            case "max": operation = .maximum
            case let other: throw .invalidParameter(name: "operation '\(op.name)' ew_op", expected: "add or max", found: other)
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
            throw .invalidParameter(name: "operation '\(op.name)' activation", expected: "none, relu, clip, prelu, sigmoid or tanh", found: other)
        }
        return FloatSDPLayer(bias: try r.float32Weight("bias", count: channels), scale: try r.float32Weight("scale", count: channels),
                             elementwise: elementwise, activation: activation, outputScale: try r.float("cvt_scale", default: 1),
                             outputType: output.elementType, saturates: try r.int("cvt_saturate", default: 1) != 0)
    }
}

/// Typed access to a generic operation's attributes, each failure naming the operation and key.
struct AttributeReader {
    let operation: DLAOperation
    let weights: [DLALoadedTensor]

    private func fail(_ key: String, _ expected: String, _ found: DLAAttributeValue?) -> EngineError {
        .invalidParameter(name: "operation '\(operation.name)' attribute '\(key)'", expected: expected, found: found.map { "\($0)" } ?? "nothing")
    }

    func int(_ key: String, default fallback: Int?) throws(EngineError) -> Int {
        switch operation.attribute(key) {
        case .int(let value)?:
            guard value.magnitude <= 1 << 40 else { throw fail(key, "an integer of magnitude at most 2^40", .int(value)) }
            let result = Int(value)
            return result
        case nil:
            guard let fallback else { throw fail(key, "an integer", nil) }
            return fallback
        case let other: throw fail(key, "an integer", other)
        }
    }

    /// An integer that must fit a 32-bit register field exactly (a value out of range is refused,
    /// never clamped: clamping would silently run a different model).
    func int32(_ key: String, default fallback: Int) throws(EngineError) -> Int32 {
        let value = try int(key, default: fallback)
        guard let exact = Int32(exactly: value) else { throw fail(key, "a 32-bit integer", .int(Int64(value))) }
        return exact
    }

    /// SDP's converter registers `<prefix>_offset` (32 bits), `<prefix>_scale` (16 bits signed) and
    /// `<prefix>_shift` (6 bits), each refused when out of its register's range.
    func converter(_ prefix: String, offset defaultOffset: Int) throws(EngineError) -> OutputConverter {
        let offset = try int32("\(prefix)_offset", default: defaultOffset)
        let scale = try int("\(prefix)_scale", default: 1)
        guard let scale16 = Int16(exactly: scale) else { throw fail("\(prefix)_scale", "a 16-bit signed integer", .int(Int64(scale))) }
        let shift = try int("\(prefix)_shift", default: 0)
        guard (0...Int(OutputConverter.maxShift)).contains(shift) else {
            throw fail("\(prefix)_shift", "0...\(OutputConverter.maxShift)", .int(Int64(shift)))
        }
        return OutputConverter(offset: offset, scale: scale16, shift: UInt8(shift))
    }

    func ints(_ key: String, count: Int, default fallback: [Int]?) throws(EngineError) -> [Int] {
        switch operation.attribute(key) {
        case .ints(let values)? where values.count == count && values.allSatisfy({ $0.magnitude <= 1 << 40 }):
            return values.map { Int($0) }
        case nil:
            guard let fallback else { throw fail(key, "\(count) integers", nil) }
            return fallback
        case let other: throw fail(key, "\(count) integers", other)
        }
    }

    func float(_ key: String, default fallback: Float) throws(EngineError) -> Float {
        switch operation.attribute(key) {
        case .float(let value)? where value.isFinite: return value
        case nil: return fallback
        case let other: throw fail(key, "a finite float", other)
        }
    }

    func string(_ key: String, default fallback: String) throws(EngineError) -> String {
        switch operation.attribute(key) {
        case .string(let value)?: return value
        case nil: return fallback
        case let other: throw fail(key, "a string", other)
        }
    }

    private func weightTensor(_ key: String) throws(EngineError) -> DLALoadedTensor? {
        switch operation.attribute(key) {
        case nil: return nil
        case .weight(let index)?:
            guard index >= 0, index < weights.count else { throw fail(key, "a weight index below \(weights.count)", .weight(index)) }
            return weights[index]
        case let other: throw fail(key, "a weight reference", other)
        }
    }

    /// INT8 weights with zero point 0 (NVDLA's weight converter allows no offset, precision.rst).
    func int8Weight(_ key: String) throws(EngineError) -> (shape: [Int], values: [Int8]) {
        guard let tensor = try weightTensor(key) else { throw fail(key, "a weight reference", nil) }
        guard case .int8(let values) = tensor.values else {
            throw fail(key, "int8 weights", .string(tensor.dataType.description))
        }
        switch tensor.quantization {
        case .none: break
        case .perTensor(_, let zeroPoint) where zeroPoint == 0: break
        case .perChannel(_, _, let zeroPoints) where zeroPoints.allSatisfy({ $0 == 0 }): break
        default: throw fail(key, "symmetric weights (zero point 0)", .string("\(tensor.quantization)"))
        }
        return (tensor.shape, values)
    }

    func floats(_ key: String, count: Int) throws(EngineError) -> [Float] {
        switch operation.attribute(key) {
        case .floats(let values)? where values.count == count && values.allSatisfy(\.isFinite): return values
        case let other: throw fail(key, "\(count) finite floats", other)
        }
    }

    /// The shape of a referenced weight tensor, whatever its type.
    func weightShape(_ key: String) throws(EngineError) -> [Int] {
        guard let tensor = try weightTensor(key) else { throw fail(key, "a weight reference", nil) }
        return tensor.shape
    }

    /// FP16 or FP8 weights decoded to Float (exactly). Their scales are not applied here: the
    /// compiler folds them into SDP's `scale`. FP32 weights are refused: their products with
    /// FP16 data are not exact in FP32.
    func floatWeight(_ key: String) throws(EngineError) -> (shape: [Int], values: [Float], precision: Precision) {
        guard let tensor = try weightTensor(key) else { throw fail(key, "a weight reference", nil) }
        switch tensor.values {
        case .float16(let codes): return (tensor.shape, codes.map(FP16.decode), .fp16)
        case .fp8e4m3(let codes): return (tensor.shape, codes.map { FP8.decode($0, .e4m3fn) }, .fp8)
        case .fp8e5m2(let codes): return (tensor.shape, codes.map { FP8.decode($0, .e5m2) }, .fp8)
        default: throw fail(key, "fp16 or fp8 weights", .string(tensor.dataType.description))
        }
    }

    /// A per-channel FP32 vector of `count` values, or nil when the attribute is absent.
    func float32Weight(_ key: String, count: Int) throws(EngineError) -> [Float]? {
        guard let tensor = try weightTensor(key) else { return nil }
        guard case .float32(let values) = tensor.values, values.count == count else {
            throw fail(key, "\(count) float32 values", .string("\(tensor.dataType) × \(tensor.elementCount)"))
        }
        return values
    }

    /// A per-channel INT32 vector of `count` values, or nil when the attribute is absent.
    func int32Weight(_ key: String, count: Int) throws(EngineError) -> [Int32]? {
        guard let tensor = try weightTensor(key) else { return nil }
        guard case .int32(let values) = tensor.values, values.count == count else {
            throw fail(key, "\(count) int32 values", .string("\(tensor.dataType) × \(tensor.elementCount)"))
        }
        return values
    }
}
