import DLAFormat
import DLANumerics

extension Lowering {
    /// What SDP receives: `real_c = inputScale_c · (v + correction_c)` for the value v it reads
    /// (INT32 accumulators or INT8 codes; for floats the correction is 0).
    struct SDPInput {
        var tensor: Int
        var inputScale: [Double]
        var correction: [Int64]
        /// INT8 codes (an activation), whose steps are too coarse to add a bias in: it is added
        /// after the multiplier instead, in 1/2^8 of an output step (`IntegerProgram.ewBias`).
        var readsCodes = false
    }

    /// SDP reading an activation: `real = s·(q − z)` for INT8 codes, `s·x` for FP8 (FP16: s = 1).
    func sdpInput(_ name: String, channels: Int, node: GraphNode) throws(CompilerError) -> SDPInput {
        let q = try activation(name, node: node.label)
        return SDPInput(tensor: try input(name, node: node), inputScale: [Double](repeating: Double(q.scale), count: channels),
                        correction: [Int64](repeating: precision == .int8 ? -Int64(q.zeroPoint) : 0, count: channels), readsCodes: true)
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

        let integer = try integerProgram(input: input, program: program, output: outQ, operand: operand?.quantization, node: node)
        builder.emit(name, .sdp, "sdp", inputs: inputs, output: outputIndex,
                     multiplyStageAttributes(name, integer) + outputStageAttributes(name, integer))
    }

    /// A linear layer whose product is rounded to `intermediate`'s INT8 quantization before
    /// `after` applies (ONNX Runtime's QDQ / QOperator MatMul + Add: two roundings) as one SDP.
    /// BS computes what the SDP writing `intermediate` would, clipped to its codes with the zero
    /// point removed instead of converted; BN continues as the SDP reading that tensor would, its
    /// bias moved by the zero point. Integer for integer the same as the two SDPs.
    mutating func emitRequantizedSDP(_ name: String, input: SDPInput, before: PointwiseProgram, intermediate: String,
                                     after: PointwiseProgram, output: String, node: GraphNode) throws(CompilerError) {
        guard precision == .int8 else {
            throw .unsupportedPattern(node: node.label, detail: "a product rounded to '\(intermediate)' and then biased fuses only in INT8 models")
        }
        let middle = try activation(intermediate, node: node.label), outQ = try activation(output, node: node.label)
        let channels = before.multiplier.count
        for program in [before, after] {
            for c in 0..<channels where program.multiplier[c] == 0 && program.offset[c] != 0 {
                throw .unsupportedPattern(node: node.label, detail: "channel \(c) has a zero multiplier (a constant output); the compiler cannot express it on SDP")
            }
        }
        let first = try integerProgram(input: input, program: before, output: middle, operand: nil, node: node)
        guard case .none = first.activation, first.converter == (-Int64(middle.zeroPoint), 1, 0) else {
            throw .unsupportedPattern(node: node.label, detail: "an activation before the rounding to '\(intermediate)' does not fuse with the bias after it")
        }
        let codes = SDPInput(tensor: input.tensor, inputScale: [Double](repeating: Double(middle.scale), count: channels),
                             correction: [Int64](repeating: -Int64(middle.zeroPoint), count: channels), readsCodes: true)
        var second = try integerProgram(input: codes, program: after, output: outQ, operand: nil, node: node)
        var moved: [Int32] = []
        for (c, bias) in second.bias.enumerated() {
            guard let value = Int32(exactly: Int64(bias) + Int64(middle.zeroPoint)) else {
                throw .unsupportedQuantization(node: node.label, detail: "bias of channel \(c) after the rounding exceeds INT32")
            }
            moved.append(value)
        }
        second.bias = moved
        let outputIndex = try addOutput(output, node: node)
        let codeRange = [Int64(Int8.min) - Int64(middle.zeroPoint), Int64(Int8.max) - Int64(middle.zeroPoint)]
        let attributes = multiplyStageAttributes(name, first) + [DLAAttribute("bs_clip", .ints(codeRange))]
            + multiplyStageAttributes(name, second, prefix: "bn") + outputStageAttributes(name, second)
        builder.emit(name, .sdp, "sdp", inputs: [input.tensor], output: outputIndex, attributes)
    }

    /// An INT8 SDP program's registers: the bias in the input's units, multipliers sharing one
    /// shift into the target units (output steps, 1/2^8 of them for element-wise sums, or the
    /// LUT's input), the operand's aligner, the activation in those units and the converter.
    struct IntegerProgram {
        var bias: [Int32]
        var multipliers: [Int32]
        var shift: Int
        /// A bias added after the multiplier, in its units (for inputs read as INT8 codes).
        var ewBias: [Int32]?
        /// Element-wise operand: its zero point and 16-bit aligner.
        var operand: (zeroPoint: Int32, aligner: FixedPointScale)?
        var activation: PointwiseProgram.Activation
        /// The units the multiply stage produces, in real values per step.
        var unit: Double
        var converter: (offset: Int64, scale: Int64, shift: Int64)
    }

    /// The integer program from `input` through `program` to the quantization `output`.
    func integerProgram(input: SDPInput, program: PointwiseProgram, output outQ: TensorQuantization, operand: TensorQuantization?,
                        node: GraphNode) throws(CompilerError) -> IntegerProgram {
        let channels = program.multiplier.count
        let combined = (0..<channels).map { program.multiplier[$0] * input.inputScale[$0] }
        let realBias = (0..<channels).map { combined[$0] == 0 ? 0 : program.offset[$0] / combined[$0] }
        let usesLookup: Bool
        switch program.activation {
        case .sigmoid, .tanh: usesLookup = true
        default: usesLookup = false
        }
        // A bias on INT8 codes goes after the multiplier (Y's ALU), where the units are finer.
        let biasAfter = input.readsCodes && operand == nil && !usesLookup && program.offset.contains { $0 != 0 }
        let fraction = operand != nil || biasAfter ? Self.elementwiseFractionBits : 0
        // Target units of the multiply stage: LUT input (2^-8 real), or output steps (with
        // `fraction` extra bits for element-wise sums and late biases).
        let unit = usesLookup ? 1.0 / Double(1 << Self.lutFractionBits) : Double(outQ.scale) / Double(1 << fraction)
        func integer(_ value: Double, _ c: Int) throws(CompilerError) -> Int32 {
            let rounded = value.rounded(.toNearestOrAwayFromZero)
            guard let exact = Int32(exactly: rounded) else {
                throw .unsupportedQuantization(node: node.label, detail: "bias of channel \(c) (\(rounded)) exceeds INT32")
            }
            return exact
        }
        var bias: [Int32] = [], ewBias: [Int32]?
        for c in 0..<channels {
            bias.append(try integer((biasAfter ? 0 : realBias[c]) + Double(input.correction[c]), c))
        }
        if biasAfter {
            var late: [Int32] = []
            for c in 0..<channels { late.append(try integer(program.offset[c] / unit, c)) }
            ewBias = late
        }
        let (multipliers, shift) = try Self.fixedPointMultipliers(combined.map { $0 / unit }, node: node)
        var aligned: (zeroPoint: Int32, aligner: FixedPointScale)?
        if let operand {
            guard let converter = FixedPointScale.approximating(Double(operand.scale) / unit) else {
                throw .unsupportedQuantization(node: node.label, detail: "operand scale ratio \(Double(operand.scale) / unit) has no 16-bit fixed-point form")
            }
            aligned = (operand.zeroPoint, converter)
        }
        let converter: (offset: Int64, scale: Int64, shift: Int64)
        if usesLookup {
            let m = 1 / (Self.lutOutputScale * Double(outQ.scale))
            guard let lookupConverter = FixedPointScale.approximating(m) else {
                throw .unsupportedQuantization(node: node.label, detail: "output scale \(outQ.scale) has no 16-bit converter")
            }
            let offset = (-Double(outQ.zeroPoint) / lookupConverter.value).rounded(.toNearestOrAwayFromZero)
            converter = (Int64(offset), Int64(lookupConverter.scale), Int64(lookupConverter.shift))
        } else {
            converter = (-Int64(outQ.zeroPoint) << fraction, 1, Int64(fraction))
        }
        return IntegerProgram(bias: bias, multipliers: multipliers, shift: shift, ewBias: ewBias, operand: aligned,
                              activation: program.activation, unit: unit, converter: converter)
    }

    /// The attributes of `program`'s BS stage (`bias`, `scale`, `scale_shift`), or with `prefix`
    /// "bn" its BN stage (`bn_bias`, `bn_scale`, `bn_scale_shift`).
    mutating func multiplyStageAttributes(_ name: String, _ program: IntegerProgram, prefix: String? = nil) -> [DLAAttribute] {
        let key = { (suffix: String) in prefix.map { "\($0)_\(suffix)" } ?? suffix }
        let channels = program.bias.count
        // BN's add is omitted when it adds nothing (its bias went after the multiplier).
        let bias = prefix != nil && program.bias.allSatisfy({ $0 == 0 }) ? []
            : [DLAAttribute(key("bias"), builder.addWeight(name + "_" + key("bias"), shape: [channels], values: .int32(program.bias)))]
        return bias + [DLAAttribute(key("scale"), builder.addWeight(name + "_" + key("scale"), shape: [channels], values: .int32(program.multipliers))),
                       DLAAttribute(key("scale_shift"), .int(Int64(program.shift)))]
    }

    /// The late bias or operand aligner, activation and converter of `program`.
    mutating func outputStageAttributes(_ name: String, _ program: IntegerProgram) -> [DLAAttribute] {
        var attributes: [DLAAttribute] = []
        if let ewBias = program.ewBias {
            attributes.append(DLAAttribute("ew_bias", builder.addWeight(name + "_ew_bias", shape: [ewBias.count], values: .int32(ewBias))))
        }
        if let operand = program.operand {
            attributes += [DLAAttribute("ew_op", .string("add")), DLAAttribute("ew_offset", .int(Int64(operand.zeroPoint))),
                           DLAAttribute("ew_scale", .int(Int64(operand.aligner.scale))), DLAAttribute("ew_shift", .int(Int64(operand.aligner.shift)))]
        }
        let unit = program.unit
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
            attributes.append(DLAAttribute("prelu_slope", builder.addWeight(name + "_slope", shape: [slopes.count], values: .int32(values))))
            attributes.append(DLAAttribute("prelu_shift", .int(15)))
        case .sigmoid, .tanh:
            attributes.append(DLAAttribute("activation", .string(program.activation.isSigmoid ? "sigmoid" : "tanh")))
            attributes.append(DLAAttribute("lut_input_fraction_bits", .int(Int64(Self.lutFractionBits))))
            attributes.append(DLAAttribute("lut_output_scale", .float(Float(Self.lutOutputScale))))
        }
        attributes += [DLAAttribute("cvt_offset", .int(program.converter.offset)), DLAAttribute("cvt_scale", .int(program.converter.scale)),
                       DLAAttribute("cvt_shift", .int(program.converter.shift))]
        return attributes
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
