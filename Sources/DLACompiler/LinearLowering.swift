import DLAFormat
import DLANumerics

extension Lowering {
    /// Conv / Gemm / MatMul and their fused followers → convolution core + SDP.
    mutating func lowerLinear(_ group: LoweringGroup) throws(CompilerError) {
        let node = graph.nodes[group.nodes[0]]
        let inputName = node.inputs[0]
        let inputIndex = try input(inputName, node: node)
        let inQ = try activation(inputName, node: node.label)
        guard node.inputs.count >= 2, graph.constants[node.inputs[1]] != nil else {
            throw .unsupportedPattern(node: node.label, detail: "the weights (input 2) must be a constant; the convolution core reads weights from memory")
        }
        let inputShape = try sampleShape(inputName, node: node.label)
        var real = try constant(node.inputs[1], node: node)
        var exact = quantizedConstants[node.inputs[1]]
        var bias: [Double]?
        var conv: [DLAAttribute] = []
        let isConvolution = node.opType == "Conv"
        var transposeWeights = false

        switch node.opType {
        case "Conv":
            guard real.shape.count == 4, inputShape.count == 3 else {
                throw .unsupportedPattern(node: node.label, detail: "only 2-D convolutions on [N, C, H, W] are supported (weight shape \(real.shape))")
            }
            conv = try convolutionAttributes(node, inputShape: inputShape, kernel: [real.shape[2], real.shape[3]])
            if node.inputs.count > 2, !node.inputs[2].isEmpty { bias = try constant(node.inputs[2], node: node).floatValues.map(Double.init) }
        case "Gemm":
            let alpha = try node.floatAttribute("alpha", default: 1), beta = try node.floatAttribute("beta", default: 1)
            let transA = try node.intAttribute("transA", default: 0), transB = try node.intAttribute("transB", default: 0)
            guard transA == 0 else { throw .unsupportedPattern(node: node.label, detail: "transA = 1 (the activation must be [N, K])") }
            guard real.shape.count == 2 else { throw .shapeMismatch(node: node.label, detail: "Gemm weight must be 2-D, found \(real.shape)") }
            transposeWeights = transB == 0
            if alpha != 1 {
                real = ConstantTensor(floats: real.floatValues.map { $0 * alpha }, shape: real.shape)
                exact = exact.map { var copy = $0; copy.scales = copy.scales.map { $0 * alpha }; return copy }
            }
            if node.inputs.count > 2, !node.inputs[2].isEmpty {
                let outputs = transposeWeights ? real.shape[1] : real.shape[0]
                let c = try constant(node.inputs[2], node: node)
                guard c.count == outputs || c.count == 1 else {
                    throw .unsupportedPattern(node: node.label, detail: "bias C of shape \(c.shape) is not per output (\(outputs))")
                }
                bias = (0..<outputs).map { Double(c.floatValues[c.count == 1 ? 0 : $0]) * Double(beta) }
            }
        default:
            guard real.shape.count == 2 else { throw .unsupportedPattern(node: node.label, detail: "MatMul weight must be 2-D, found \(real.shape)") }
            guard inputShape.count == 1 else {
                throw .unsupportedPattern(node: node.label, detail: "MatMul on a \(inputShape.count + 1)-D activation (only [N, K] × [K, M])")
            }
            transposeWeights = true
        }
        var weightShape = real.shape
        var realValues = real.floatValues
        if transposeWeights {
            realValues = LayerWeights.transposed(realValues, rows: real.shape[0], columns: real.shape[1])
            weightShape = [real.shape[1], real.shape[0]]
            if var e = exact {
                guard case .bytes(let bytes) = e.codes.storage else { throw .unsupportedQuantization(node: node.label, detail: "weights are not 8-bit codes") }
                var transposed = [UInt8](repeating: 0, count: bytes.count)
                for r in 0..<real.shape[0] { for c in 0..<real.shape[1] { transposed[c * real.shape[0] + r] = bytes[r * real.shape[1] + c] } }
                e.codes = ConstantTensor(elementType: e.codes.elementType, shape: weightShape, storage: .bytes(transposed))
                e.axis = e.scales.count == 1 ? 0 : (e.axis == 1 ? 0 : 1)
                exact = e
            }
        }
        let channels = weightShape[0]
        if !isConvolution {
            let features = inputShape.reduce(1, *)
            guard weightShape[1] == features else {
                throw .shapeMismatch(node: node.label, detail: "weight has \(weightShape[1]) inputs, the activation \(features)")
            }
        }

        // Followers before the product is rounded (all of them when it is not): bias Add,
        // BatchNormalization, activation.
        var program = PointwiseProgram.identity(channels)
        var normalization: (a: [Double], d: [Double])?
        let rounding = group.requantization?.nodes ?? group.nodes.count
        for index in group.nodes[1..<rounding] {
            let follower = graph.nodes[index]
            switch follower.opType {
            case "Add":
                let name = graph.constants[follower.inputs[1]] != nil ? follower.inputs[1] : follower.inputs[0]
                let values = try perChannel(try constant(name, node: follower), channels: channels, rank: inputShape.count + 1, node: follower)
                bias = (0..<channels).map { (bias?[$0] ?? 0) + values[$0] }
            case "BatchNormalization":
                var bn = PointwiseProgram.identity(channels)
                try applyAffine(follower, to: &bn, channels: channels, rank: 4)
                normalization = (bn.multiplier, bn.offset)
            default:
                try applyActivation(follower, to: &program, channels: channels, rank: inputShape.count + 1)
            }
        }
        var biasValues = bias ?? [Double](repeating: 0, count: channels)
        guard biasValues.count == channels else {
            throw .shapeMismatch(node: node.label, detail: "bias has \(biasValues.count) values for \(channels) outputs")
        }

        var weights: LayerWeights
        if let exact, precision != .fp16 {
            weights = try LayerWeights.fromModel(exact, realShape: weightShape, name: node.name + "_weight", node: node.label)
            guard weights.precision == precision else {
                throw .unsupportedQuantization(node: node.label, detail: "\(weights.precision) weights in a \(precision) model")
            }
            if let normalization {
                program.then(multiply: normalization.a, add: normalization.d)
            }
        } else {
            if let normalization {
                // Folded into the float weights: exact before quantization.
                let length = realValues.count / channels
                for c in 0..<channels {
                    for i in 0..<length { realValues[c * length + i] *= Float(normalization.a[c]) }
                    biasValues[c] = biasValues[c] * normalization.a[c] + normalization.d[c]
                }
            }
            weights = LayerWeights.quantizing(realValues, shape: weightShape, name: node.name + "_weight", precision: precision,
                                              sharedValueLimit: sharedValueLimit)
        }
        try compress(&weights)

        // Bias goes before the program's own map: y = a·(conv + b) + d = a·conv + (a·b + d).
        var composed = PointwiseProgram.identity(channels)
        composed.then(multiply: [Double](repeating: 1, count: channels), add: biasValues)
        composed.then(multiply: program.multiplier, add: program.offset)
        composed.activation = program.activation

        let length = weights.channelLength
        var correction = [Int64](repeating: 0, count: channels)
        if precision == .int8, inQ.zeroPoint != 0 {
            for c in 0..<channels {
                var sum: Int64 = 0
                for i in 0..<length { sum += Int64(weights.codes[c * length + i]) }
                correction[c] = -Int64(inQ.zeroPoint) * sum
            }
        }
        let inputScale = (0..<channels).map { Double(inQ.scale) * Double(weights.scales[$0]) }

        let outputShape = isConvolution ? try sampleShape(node.outputs[0], node: node.label) : [channels]
        let accumulatorType: DLADataType = precision == .int8 ? .int32 : .float32
        let accumulator = builder.addTensor(node.name + "_acc", sampleShape: outputShape, type: accumulatorType, quantization: .none)
        let weightAttribute = builder.addWeight(weights.name, shape: weights.shape, values: weights.tensorValues)
        guard case .weight(let weightIndex) = weightAttribute else { return }
        builder.emit(node.name, .convolution, isConvolution ? "conv" : "fc", inputs: [inputIndex], output: accumulator,
                     [DLAAttribute("weight", weightAttribute)] + conv)
        let firstSDPWeight = builder.weights.count
        let sdpInput = SDPInput(tensor: accumulator, inputScale: inputScale, correction: correction)
        if let requantization = group.requantization {
            // Bias Add and activation after the product's rounding (QDQ / QOperator MatMul + Add).
            var after = PointwiseProgram.identity(channels)
            for index in group.nodes[rounding...] {
                try applyAffine(graph.nodes[index], to: &after, channels: channels, rank: inputShape.count + 1)
            }
            try emitRequantizedSDP(node.name + "_sdp", input: sdpInput, before: composed, intermediate: requantization.tensor,
                                   after: after, output: group.output, node: node)
        } else {
            try emitSDP(node.name + "_sdp", input: sdpInput, program: composed, output: group.output, node: node)
        }
        layerWeights.append((node.name, weightIndex, Array(firstSDPWeight..<builder.weights.count)))
    }

    func convolutionAttributes(_ node: GraphNode, inputShape: [Int], kernel: [Int]) throws(CompilerError) -> [DLAAttribute] {
        let strides = try node.intsAttribute("strides")?.map(Int64.init) ?? [1, 1]
        let dilations = try node.intsAttribute("dilations")?.map(Int64.init) ?? [1, 1]
        var pads = try node.intsAttribute("pads")?.map(Int64.init) ?? [0, 0, 0, 0]
        let group = Int64(try node.intAttribute("group", default: 1))
        let autoPad = try node.stringAttribute("auto_pad", default: "NOTSET")
        if autoPad != "NOTSET" {
            if autoPad == "VALID" {
                pads = [0, 0, 0, 0]
            } else {
                // SAME_UPPER / SAME_LOWER: total padding so that out = ceil(in / stride).
                var computed: [Int64] = [0, 0, 0, 0]
                for axis in 0..<2 {
                    let size = Int64(inputShape[axis + 1])
                    let out = (size + strides[axis] - 1) / strides[axis]
                    let effective = (Int64(kernel[axis]) - 1) * dilations[axis] + 1
                    let total = max(0, (out - 1) * strides[axis] + effective - size)
                    let small = total / 2, large = total - small
                    computed[axis] = autoPad == "SAME_UPPER" ? small : large
                    computed[axis + 2] = autoPad == "SAME_UPPER" ? large : small
                }
                pads = computed
            }
        }
        guard strides.count == 2, dilations.count == 2, pads.count == 4 else {
            throw .unsupportedAttribute(node: node.label, attribute: "strides/dilations/pads", reason: "must describe two spatial axes")
        }
        // ONNX pads are [top, left, bottom, right]; the engine takes [top, bottom, left, right].
        return [DLAAttribute("stride", .ints(strides)), DLAAttribute("padding", .ints([pads[0], pads[2], pads[1], pads[3]])),
                DLAAttribute("dilation", .ints(dilations)), DLAAttribute("groups", .int(group))]
    }
}
