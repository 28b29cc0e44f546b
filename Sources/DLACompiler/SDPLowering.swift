import DLAFormat
import DLANumerics

extension Lowering {
    /// What SDP receives: `real_c = inputScale_c · (v + correction_c)` for the value v it reads
    /// (INT32 accumulators or INT8 codes; for floats the correction is 0).
    struct SDPInput {
        var tensor: Int
        var inputScale: [Double]
        var correction: [Int64]
    }

    /// SDP reading an activation: `real = s·(q − z)` for INT8 codes, `s·x` for FP8 (FP16: s = 1).
    func sdpInput(_ name: String, channels: Int, node: GraphNode) throws(CompilerError) -> SDPInput {
        let q = try activation(name, node: node.label)
        return SDPInput(tensor: try input(name, node: node), inputScale: [Double](repeating: Double(q.scale), count: channels),
                        correction: [Int64](repeating: precision == .int8 ? -Int64(q.zeroPoint) : 0, count: channels))
    }

    /// Emits one SDP operation: the input map, `program`, and the conversion to `output`'s
    /// quantization.
    mutating func emitSDP(_ name: String, input: SDPInput, program: PointwiseProgram, output: String, node: GraphNode,
                          operand: (tensor: Int, quantization: TensorQuantization)? = nil) throws(CompilerError) {
        let outQ = try activation(output, node: node.label)
        let channels = program.multiplier.count
        for c in 0..<channels where program.multiplier[c] == 0 && program.offset[c] != 0 {
            throw .unsupportedPattern(node: node.label, detail: "channel \(c) has a zero multiplier (a constant output); the compiler cannot express it on SDP")
        }
        let outputIndex = try addOutput(output, node: node)
        var inputs = [input.tensor]
        if let operand { inputs.append(operand.tensor) }
        var attributes: [DLAAttribute] = []
        let combined = (0..<channels).map { program.multiplier[$0] * input.inputScale[$0] }
        let realBias = (0..<channels).map { combined[$0] == 0 ? 0 : program.offset[$0] / combined[$0] }

        if precision != .int8 {
            let outputStep = precision == .fp16 || isFloatOutput(output) ? 1.0 : Double(outQ.scale)
            attributes.append(DLAAttribute("bias", builder.addWeight(name + "_bias", shape: [channels],
                                                                     values: .float32((0..<channels).map { Float(realBias[$0] + Double(input.correction[$0])) }))))
            attributes.append(DLAAttribute("scale", builder.addWeight(name + "_scale", shape: [channels], values: .float32(combined.map { Float($0) }))))
            if let operand {
                attributes.append(DLAAttribute("ew_op", .string("add")))
                attributes.append(DLAAttribute("ew_scale", .float(operand.quantization.scale)))
            }
            switch program.activation {
            case .none: break
            case .relu: attributes.append(DLAAttribute("activation", .string("relu")))
            case .sigmoid: attributes.append(DLAAttribute("activation", .string("sigmoid")))
            case .tanh: attributes.append(DLAAttribute("activation", .string("tanh")))
            case .clip(let lower, let upper):
                attributes.append(DLAAttribute("activation", .string("clip")))
                attributes.append(DLAAttribute("clip", .floats([Float(max(lower, -3e38)), Float(min(upper, 3e38))])))
            case .prelu(let slopes):
                attributes.append(DLAAttribute("activation", .string("prelu")))
                attributes.append(DLAAttribute("prelu_slope", builder.addWeight(name + "_slope", shape: [channels], values: .float32(slopes.map { Float($0) }))))
            }
            attributes.append(DLAAttribute("cvt_scale", .float(Float(1 / outputStep))))
            if !outQ.saturate { attributes.append(DLAAttribute("cvt_saturate", .int(0))) }
            builder.emit(name, .sdp, "sdp", inputs: inputs, output: outputIndex, attributes)
            return
        }

        let usesLookup: Bool
        switch program.activation {
        case .sigmoid, .tanh: usesLookup = true
        default: usesLookup = false
        }
        let fraction = operand != nil ? Self.elementwiseFractionBits : 0
        // Target units of the multiply stage: LUT input (2^-8 real), or output steps (with
        // `fraction` extra bits for element-wise sums).
        let unit = usesLookup ? 1.0 / Double(1 << Self.lutFractionBits) : Double(outQ.scale) / Double(1 << fraction)
        var bias: [Int32] = []
        for c in 0..<channels {
            let value = (realBias[c] + Double(input.correction[c])).rounded(.toNearestOrAwayFromZero)
            guard let exact = Int32(exactly: value) else {
                throw .unsupportedQuantization(node: node.label, detail: "bias of channel \(c) (\(value)) exceeds INT32")
            }
            bias.append(exact)
        }
        let (multipliers, shift) = try Self.fixedPointMultipliers(combined.map { $0 / unit }, node: node)
        attributes.append(DLAAttribute("bias", builder.addWeight(name + "_bias", shape: [channels], values: .int32(bias))))
        attributes.append(DLAAttribute("scale", builder.addWeight(name + "_scale", shape: [channels], values: .int32(multipliers))))
        attributes.append(DLAAttribute("scale_shift", .int(Int64(shift))))
        if let operand {
            guard let converter = FixedPointScale.approximating(Double(operand.quantization.scale) / unit) else {
                throw .unsupportedQuantization(node: node.label, detail: "operand scale ratio \(Double(operand.quantization.scale) / unit) has no 16-bit fixed-point form")
            }
            attributes += [DLAAttribute("ew_op", .string("add")), DLAAttribute("ew_offset", .int(Int64(operand.quantization.zeroPoint))),
                           DLAAttribute("ew_scale", .int(Int64(converter.scale))), DLAAttribute("ew_shift", .int(Int64(converter.shift)))]
        }
        func steps(_ real: Double) -> Int64 {
            let value = (real / unit).rounded(.toNearestOrAwayFromZero)
            return Int64(max(Double(Int32.min), min(Double(Int32.max), value)))
        }
        switch program.activation {
        case .none: break
        case .relu: attributes.append(DLAAttribute("activation", .string("relu")))
        case .clip(let lower, let upper):
            attributes.append(DLAAttribute("activation", .string("clip")))
            attributes.append(DLAAttribute("clip", .ints([steps(lower), steps(upper)])))
        case .prelu(let slopes):
            attributes.append(DLAAttribute("activation", .string("prelu")))
            let values = slopes.map { Int32(clamping: Int64(($0 * 32768).rounded(.toNearestOrAwayFromZero))) }
            attributes.append(DLAAttribute("prelu_slope", builder.addWeight(name + "_slope", shape: [channels], values: .int32(values))))
            attributes.append(DLAAttribute("prelu_shift", .int(15)))
        case .sigmoid, .tanh:
            attributes.append(DLAAttribute("activation", .string(program.activation.isSigmoid ? "sigmoid" : "tanh")))
            attributes.append(DLAAttribute("lut_input_fraction_bits", .int(Int64(Self.lutFractionBits))))
            attributes.append(DLAAttribute("lut_output_scale", .float(Float(Self.lutOutputScale))))
        }
        if usesLookup {
            let m = 1 / (Self.lutOutputScale * Double(outQ.scale))
            guard let converter = FixedPointScale.approximating(m) else {
                throw .unsupportedQuantization(node: node.label, detail: "output scale \(outQ.scale) has no 16-bit converter")
            }
            let offset = (-Double(outQ.zeroPoint) / converter.value).rounded(.toNearestOrAwayFromZero)
            attributes += [DLAAttribute("cvt_offset", .int(Int64(offset))), DLAAttribute("cvt_scale", .int(Int64(converter.scale))),
                           DLAAttribute("cvt_shift", .int(Int64(converter.shift)))]
        } else {
            attributes += [DLAAttribute("cvt_offset", .int(-Int64(outQ.zeroPoint) << fraction)), DLAAttribute("cvt_scale", .int(1)),
                           DLAAttribute("cvt_shift", .int(Int64(fraction)))]
        }
        builder.emit(name, .sdp, "sdp", inputs: inputs, output: outputIndex, attributes)
    }

    /// Per-channel multipliers as 16-bit integers sharing one shift (NVDLA's SDP multiplier
    /// takes one truncation shift per layer): the largest magnitude sets the shift with 15
    /// significant bits, the others round to it. Returns the multipliers and the shift.
    static func fixedPointMultipliers(_ real: [Double], node: GraphNode) throws(CompilerError) -> ([Int32], Int) {
        let largest = real.map(abs).max() ?? 0
        guard largest > 0 else { return ([Int32](repeating: 0, count: real.count), 0) }
        guard let common = FixedPointScale.approximating(largest) else {
            throw .unsupportedQuantization(node: node.label, detail: "requantization multiplier \(largest) is out of SDP's range")
        }
        let factor = Double(sign: .plus, exponent: Int(common.shift), significand: 1)
        let multipliers = real.map { Int32(max(-32768, min(32767, ($0 * factor).rounded(.toNearestOrAwayFromZero)))) }
        return (multipliers, Int(common.shift))
    }
}

extension Lowering.PointwiseProgram.Activation {
    var isSigmoid: Bool {
        if case .sigmoid = self { return true }
        return false
    }
}
