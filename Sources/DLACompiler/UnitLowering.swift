import DLAFormat
import DLANumerics

extension Lowering {
    /// Add of two activations (+ Relu / Clip) → SDP with an element-wise operand.
    mutating func lowerAdd(_ group: LoweringGroup) throws(CompilerError) {
        let node = graph.nodes[group.nodes[0]]
        let shapeA = try sampleShape(node.inputs[0], node: node.label), shapeB = try sampleShape(node.inputs[1], node: node.label)
        guard shapeA == shapeB else {
            throw .unsupportedPattern(node: node.label, detail: "Add of shapes \(shapeA) and \(shapeB) (SDP adds tensors of one shape)")
        }
        let b = try input(node.inputs[1], node: node), qb = try activation(node.inputs[1], node: node.label)
        let channels = shapeA.first ?? 1
        var program = PointwiseProgram.identity(channels)
        for index in group.nodes.dropFirst() {
            try applyActivation(graph.nodes[index], to: &program, channels: channels, rank: shapeA.count + 1)
        }
        try emitSDP(node.name, input: try sdpInput(node.inputs[0], channels: channels, node: node),
                    program: program, output: group.output, node: node, operand: (b, qb))
    }

    /// Activation, batch norm or constant arithmetic on one activation → SDP.
    mutating func lowerPointwise(_ group: LoweringGroup) throws(CompilerError) {
        let node = graph.nodes[group.nodes[0]]
        let inputName = graph.constants[node.inputs[0]] == nil ? node.inputs[0] : node.inputs[1]
        let shape = try sampleShape(inputName, node: node.label)
        let channels = shape.first ?? 1
        var program = PointwiseProgram.identity(channels)
        try applyAffine(node, to: &program, channels: channels, rank: shape.count + 1)
        try rescale(node.name, from: inputName, to: group.output, program: program, node: node)
    }

    /// SDP from one activation to another tensor's quantization through `program`.
    mutating func rescale(_ name: String, from inputName: String, to output: String, program: PointwiseProgram,
                          node: GraphNode) throws(CompilerError) {
        try emitSDP(name, input: try sdpInput(inputName, channels: program.multiplier.count, node: node),
                    program: program, output: output, node: node)
    }

    /// Max / average pooling → PDP, followed by an SDP rescale when the model gives the output
    /// another quantization than the input's (PDP keeps the input's).
    mutating func lowerPool(_ node: GraphNode, output: String) throws(CompilerError) {
        let inputName = node.inputs[0]
        let shape = try sampleShape(inputName, node: node.label)
        guard shape.count == 3 else { throw .unsupportedPattern(node: node.label, detail: "pooling needs [N, C, H, W], found \(shape)") }
        let global = node.opType.hasPrefix("Global")
        let kernel = global ? [Int64(shape[1]), Int64(shape[2])] : try node.intsAttribute("kernel_shape")?.map(Int64.init) ?? []
        guard kernel.count == 2 else { throw .unsupportedAttribute(node: node.label, attribute: "kernel_shape", reason: "must have two values") }
        let strides = global ? kernel : try node.intsAttribute("strides")?.map(Int64.init) ?? [1, 1]
        let pads = try node.intsAttribute("pads")?.map(Int64.init) ?? [0, 0, 0, 0]
        guard strides.count == 2, pads.count == 4 else {
            throw .unsupportedAttribute(node: node.label, attribute: "strides/pads", reason: "must describe two spatial axes")
        }
        if try node.intAttribute("ceil_mode", default: 0) != 0 {
            throw .unsupportedAttribute(node: node.label, attribute: "ceil_mode", reason: "= 1 is not supported by PDP (floor only)")
        }
        let autoPad = try node.stringAttribute("auto_pad", default: "NOTSET")
        if autoPad != "NOTSET", autoPad != "VALID" {
            throw .unsupportedAttribute(node: node.label, attribute: "auto_pad", reason: "= \(autoPad) is not supported (give pads)")
        }
        if let dilations = try node.intsAttribute("dilations"), dilations.contains(where: { $0 != 1 }) {
            throw .unsupportedAttribute(node: node.label, attribute: "dilations", reason: "≠ 1 is not supported by PDP")
        }
        let average = node.opType.contains("Average")
        if average, pads.contains(where: { $0 != 0 }) {
            guard try node.intAttribute("count_include_pad", default: 0) != 0 else {
                throw .unsupportedAttribute(node: node.label, attribute: "count_include_pad",
                                            reason: "= 0 with padding is not supported: PDP divides by the whole kernel (set count_include_pad = 1)")
            }
        }
        // PDP kernels span 1–8 taps per axis. A larger global pool becomes a cascade of
        // non-overlapping pools whose kernels multiply to the window (28 = 7 × 4): the mean of
        // equal-sized means is the mean (each INT8 stage rounds once).
        var stages: [[Int64]] = [kernel]
        if global, kernel.contains(where: { $0 > 8 }) {
            guard let rows = Self.poolingFactors(Int(kernel[0])), let columns = Self.poolingFactors(Int(kernel[1])) else {
                throw .unsupportedPattern(node: node.label, detail: "global pooling over \(kernel[0])×\(kernel[1]): a side has a prime factor above 8 (PDP kernels are 1 to 8)")
            }
            stages = (0..<max(rows.count, columns.count)).map { [Int64(rows.count > $0 ? rows[$0] : 1), Int64(columns.count > $0 ? columns[$0] : 1)] }
        }
        guard stages.allSatisfy({ $0.allSatisfy { (1...8).contains($0) } }) else {
            throw .unsupportedPattern(node: node.label, detail: "pooling kernel \(kernel) (PDP takes 1 to 8 per axis)")
        }
        let q = try activation(inputName, node: node.label)
        let needsRescale = precision != .fp16 && quantization[output].map { $0.asSigned != q } ?? false
        let pooledName = needsRescale ? output + "__pooled" : output
        var current = try input(inputName, node: node)
        var height = Int64(shape[1]), width = Int64(shape[2])
        for (index, stage) in stages.enumerated() {
            let last = index == stages.count - 1
            height /= stage[0]
            width /= stage[1]
            let stageShape = last ? try sampleShape(output, node: node.label) : [shape[0], Int(height), Int(width)]
            let target = builder.addTensor(last ? pooledName : "\(output)__stage\(index)", sampleShape: stageShape, type: precision.activationType,
                                           quantization: try dlaQuantization(inputName, node: node.label))
            builder.emit(stages.count == 1 ? node.name : "\(node.name)_\(index)", .pdp, "pool", inputs: [current], output: target, [
                DLAAttribute("method", .string(average ? "avg" : "max")), DLAAttribute("kernel", .ints(stage)),
                DLAAttribute("stride", .ints(stages.count == 1 ? strides : stage)),
                DLAAttribute("padding", .ints(stages.count == 1 ? [pads[0], pads[2], pads[1], pads[3]] : [0, 0, 0, 0])),
            ])
            current = target
        }
        if needsRescale {
            quantization[pooledName] = q
            try rescale(node.name + "_rescale", from: pooledName, to: output, program: .identity(shape[0]), node: node)
        }
    }

    /// `n` as factors of at most 8, largest first (nil when a prime factor exceeds 8).
    static func poolingFactors(_ n: Int) -> [Int]? {
        var rest = n, factors: [Int] = []
        while rest > 1 {
            guard let factor = (2...8).reversed().first(where: { rest % $0 == 0 }) else { return nil }
            factors.append(factor)
            rest /= factor
        }
        return factors.isEmpty ? [1] : factors
    }

    mutating func lowerLRN(_ node: GraphNode) throws(CompilerError) {
        guard precision == .int8 else {
            throw .unsupportedPattern(node: node.label, detail: "LRN runs on CDP in INT8 only (compile with --precision int8)")
        }
        let q = try activation(node.inputs[0], node: node.label), outQ = try activation(node.outputs[0], node: node.label)
        guard q.zeroPoint == 0, outQ.zeroPoint == 0 else {
            throw .unsupportedQuantization(node: node.label, detail: "CDP needs symmetric INT8 (zero point 0) in and out; found \(q.zeroPoint) and \(outQ.zeroPoint)")
        }
        let size = try node.intAttribute("size", default: 0)
        guard [3, 5, 7, 9].contains(size) else {
            throw .unsupportedAttribute(node: node.label, attribute: "size", reason: "must be 3, 5, 7 or 9 (CDP's local sizes)")
        }
        let attributes = [DLAAttribute("alpha", .float(try node.floatAttribute("alpha", default: 1e-4))),
                          DLAAttribute("beta", .float(try node.floatAttribute("beta", default: 0.75))),
                          DLAAttribute("k", .float(try node.floatAttribute("bias", default: 1))),
                          DLAAttribute("size", .int(Int64(size)))]
        builder.emit(node.name, .cdp, "lrn", inputs: [try input(node.inputs[0], node: node)], output: try addOutput(node.outputs[0], node: node), attributes)
    }

    /// Reshape, Flatten, Squeeze, Unsqueeze (no data movement) and Transpose (RUBIK). The batch
    /// stays dimension 0.
    mutating func lowerLayout(_ node: GraphNode) throws(CompilerError) {
        let inputName = node.inputs[0], output = node.outputs[0]
        guard let inShape = shapes[inputName], let outShape = shapes[output] else {
            throw .shapeMismatch(node: node.label, detail: "unknown shapes")
        }
        let source = try input(inputName, node: node)
        let target = builder.addTensor(output, sampleShape: Array(outShape.dropFirst()), type: builder.tensors[source].dataType,
                                       quantization: builder.tensors[source].quantization)
        if node.opType == "Transpose" {
            let perm = try node.intsAttribute("perm")?.map(Int64.init) ?? (0..<inShape.count).reversed().map(Int64.init)
            guard perm.first == 0 else {
                throw .unsupportedPattern(node: node.label, detail: "Transpose perm \(perm) moves the batch axis (it must stay first)")
            }
            builder.emit(node.name, .rubik, "transpose", inputs: [source], output: target, [DLAAttribute("perm", .ints(perm))])
        } else {
            guard outShape.first == inShape.first else {
                throw .unsupportedPattern(node: node.label, detail: "\(node.opType) from \(inShape) to \(outShape) mixes the batch with other axes")
            }
            builder.emit(node.name, .cpu, node.opType == "Flatten" ? "flatten" : "reshape", inputs: [source], output: target)
        }
    }

    /// Concat → BDMA copies; inputs whose quantization differs from the output's are rescaled by
    /// SDP first.
    mutating func lowerConcat(_ node: GraphNode) throws(CompilerError) {
        let output = node.outputs[0]
        let rank = shapes[output]?.count ?? 0
        guard node.attributes["axis"] != nil else { throw .invalidModel("\(node.label) has no axis") }
        var axis = Int64(try node.intAttribute("axis", default: 0))
        if axis < 0 { axis += Int64(rank) }
        guard axis >= 1, axis < rank else { throw .unsupportedPattern(node: node.label, detail: "Concat along the batch axis") }
        let outQ = try activation(output, node: node.label)
        var inputs: [Int] = []
        for (position, name) in node.inputs.enumerated() {
            let q = try activation(name, node: node.label)
            if precision == .fp16 || q == outQ {
                inputs.append(try input(name, node: node))
            } else {
                let rescaled = "\(output)__input\(position)"
                quantization[rescaled] = quantization[output]
                shapes[rescaled] = shapes[name]
                let shape = try sampleShape(name, node: node.label)
                try rescale("\(node.name)_rescale\(position)", from: name, to: rescaled, program: .identity(shape.first ?? 1), node: node)
                inputs.append(builder.index[rescaled]!)
            }
        }
        builder.emit(node.name, .bdma, "concat", inputs: inputs, output: try addOutput(output, node: node), [DLAAttribute("axis", .int(axis - 1))])
    }

    /// Softmax on the CPU fallback, said loudly in the report: NVDLA has no exponent unit.
    mutating func lowerSoftmax(_ node: GraphNode) throws(CompilerError) {
        let inputName = node.inputs[0]
        let rank = shapes[inputName]?.count ?? 0
        var axis = Int64(try node.intAttribute("axis", default: -1))
        if axis < 0 { axis += Int64(rank) }
        guard axis == Int64(rank - 1) else {
            throw .unsupportedPattern(node: node.label, detail: "Softmax over axis \(axis) of a rank-\(rank) tensor (the CPU fallback normalizes the last axis)")
        }
        let output = node.outputs[0]
        let target: Int
        if precision != .fp16, quantization[output] != nil {
            target = try addOutput(output, node: node)
        } else {
            target = builder.addTensor(output, sampleShape: try sampleShape(output, node: node.label), type: .float32, quantization: .none)
        }
        builder.emit(node.name, .cpu, "softmax", inputs: [try input(inputName, node: node)], output: target)
    }
}
