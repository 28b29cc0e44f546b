import DLAFormat
import DLANumerics

/// Builds ResNet-18 as a `.dla` model in the engine's operation vocabulary (docs/EMULATOR.md), as
/// a compiler would lower it: each convolution on the convolution core into INT32, then one SDP
/// that adds the folded batch-norm bias, requantizes per channel (16-bit multipliers, one shift)
/// and applies ReLU; the residual add happens in the second convolution's SDP (element-wise
/// operand aligned by `ew_scale >> ew_shift`, summed with 8 extra fraction bits, rounded once by
/// the output converter); max pooling 3×3/2 and the global average on PDP; fc as a 1×1
/// convolution; softmax on the CPU path. Activations are symmetric INT8 (zero point 0).
struct ResNet18Graph {
    /// Activation scales by tensor name (the SDP outputs; pools keep their input's scale).
    typealias Scales = [String: Float]

    struct TensorUse {
        var name: String
        var bytes: Int
    }

    let model: DLAModel
    /// SDP outputs, in execution order: what calibration and the saturation check look at.
    let probeNames: [String]
    /// Multiply-accumulates of one inference (convolutions and fc).
    let macs: Int
    /// Bytes of every activation tensor at batch 1 (int8 1, int32 and float32 4), graph input included.
    let activationBytes: [TensorUse]
    /// The operation whose inputs and output together are largest, and those bytes.
    let largestOperation: TensorUse
    /// The most activation bytes alive at once when every tensor is freed after its last reader,
    /// as the executor does (the operation's inputs, its output and everything still awaited).
    let peakLiveActivationBytes: Int
    /// INT8 weights plus INT32 biases and multipliers, as stored.
    let weightBytes: Int

    /// `probe` makes every SDP output a graph output too (kept alive, for calibration and the
    /// saturation check only: it defeats the executor's freeing of dead activations) and stores its
    /// weights dense (probes are built several times; the writer's search for the smallest encoding
    /// takes seconds, and storage never changes a result).
    init(weights: ResNet18Weights, inputSize: Int, scales: Scales, probe: Bool) throws {
        var builder = Builder(scales: scales, encoding: probe ? .dense : nil)
        let inputScale = try builder.scale("input")
        var x = builder.activation("input", [3, inputSize, inputSize], .int8, scale: inputScale)
        x = try builder.convolution(try weights.layer("conv1"), x, output: "conv1", relu: true, residual: nil)
        x = try builder.pool("maxpool", x, method: "max", kernel: 3, stride: 2, padding: 1)
        for stage in ResNet18Weights.stageChannels.indices {
            for block in 0..<2 {
                let prefix = "layer\(stage + 1).\(block)"
                let blockInput = x
                let hidden = try builder.convolution(try weights.layer(prefix + ".conv1"), x, output: prefix + ".conv1", relu: true, residual: nil)
                var shortcut = blockInput
                if let projection = weights.layers.first(where: { $0.name == prefix + ".downsample" }) {
                    shortcut = try builder.convolution(projection, blockInput, output: prefix + ".downsample",
                                                       relu: false, residual: nil)
                }
                x = try builder.convolution(try weights.layer(prefix + ".conv2"), hidden, output: prefix, relu: true, residual: shortcut)
            }
        }
        let spatial = x.shape[1]
        guard spatial == x.shape[2], (1...8).contains(spatial) else {
            throw BenchmarkError("global average pool: final feature map \(x.shape[1])×\(x.shape[2]) is outside PDP's 1–8 kernel (input size \(inputSize))")
        }
        x = try builder.pool("avgpool", x, method: "avg", kernel: spatial, stride: spatial, padding: 0)
        x = try builder.convolution(try weights.layer("fc"), x, output: "fc", relu: false, residual: nil)
        let probabilities = builder.activation("softmax", [ResNet18Weights.classes], .float32, scale: nil)
        builder.operations.append(DLAOperation(name: "softmax", unit: .cpu, type: "softmax", inputs: [x.id], outputs: [probabilities.id]))

        let outputs = [probabilities.id] + (probe ? builder.probes.map(\.id) : [])
        let metadata = DLAMetadata(name: "resnet18-int8-random", producer: "ResNetBenchmark", createdAt: 0, targetProfile: "nv_full",
                                   precision: "int8", inputs: [builder.tensors[0]], outputs: outputs.map { builder.tensors[$0] })
        model = DLAModel(metadata: metadata,
                         graph: DLAGraph(tensors: builder.tensors, inputs: [0], outputs: outputs, operations: builder.operations),
                         weights: builder.weights)
        probeNames = builder.probes.map(\.name)
        macs = builder.macs
        activationBytes = builder.tensors.map { TensorUse(name: $0.name, bytes: Builder.bytes($0)) }
        var largest = TensorUse(name: "", bytes: 0)
        for operation in builder.operations {
            let bytes = (operation.inputs + operation.outputs).reduce(0) { $0 + Builder.bytes(builder.tensors[$1]) }
            if bytes > largest.bytes { largest = TensorUse(name: operation.name, bytes: bytes) }
        }
        largestOperation = largest
        var lastReader: [Int: Int] = [:]
        for (index, operation) in builder.operations.enumerated() {
            for id in operation.inputs { lastReader[id] = index }
        }
        var live: Set<Int> = [0]
        var peak = 0
        for (index, operation) in builder.operations.enumerated() {
            live.formUnion(operation.outputs)
            peak = max(peak, live.reduce(0) { $0 + Builder.bytes(builder.tensors[$1]) })
            live.subtract(operation.inputs.filter { lastReader[$0] == index && !outputs.contains($0) })
        }
        peakLiveActivationBytes = peak
        weightBytes = builder.weights.reduce(0) { total, weight in
            switch weight.values {
            case .int8(let values): total + values.count
            case .int32(let values): total + 4 * values.count
            default: total
            }
        }
    }

    struct Activation {
        var id: Int
        var name: String
        var shape: [Int]
        var scale: Float
    }

    private struct Builder {
        let scales: Scales
        let encoding: DLATensorEncoding?
        var tensors: [DLATensorSpec] = []
        var weights: [DLAWeightTensor] = []
        var operations: [DLAOperation] = []
        var probes: [Activation] = []
        var macs = 0

        init(scales: Scales, encoding: DLATensorEncoding?) {
            self.scales = scales
            self.encoding = encoding
        }

        static func bytes(_ spec: DLATensorSpec) -> Int {
            let elements = spec.shape.reduce(1) { $0 * ($1 == DLATensorSpec.symbolicDimension ? 1 : Int($1)) }
            return elements * (spec.dataType == .int8 ? 1 : 4)
        }

        func scale(_ name: String) throws -> Float {
            guard let scale = scales[name], scale > 0, scale.isFinite else {
                throw BenchmarkError("no positive activation scale for \(name)")
            }
            return scale
        }

        mutating func activation(_ name: String, _ shape: [Int], _ type: DLADataType, scale: Float?) -> Activation {
            let quantization: DLAQuantization = scale.map { .perTensor(scale: $0, zeroPoint: 0) } ?? .none
            tensors.append(DLATensorSpec(name: name, shape: [DLATensorSpec.symbolicDimension] + shape.map(Int64.init), dataType: type,
                                         quantization: quantization))
            return Activation(id: tensors.count - 1, name: name, shape: shape, scale: scale ?? 1)
        }

        mutating func weight(_ name: String, _ shape: [Int], _ values: DLATensorValues) -> DLAAttributeValue {
            weights.append(DLAWeightTensor(name: name, shape: shape, values: values, encoding: encoding))
            return .weight(weights.count - 1)
        }

        /// Convolution (fc when the layer is `fc`) into INT32, then its SDP into INT8 `output`.
        mutating func convolution(_ layer: ConvolutionLayer, _ input: Activation, output: String, relu: Bool,
                                  residual: Activation?) throws -> Activation {
            let outputScale = try scale(output)
            let accumulatorShape: [Int]
            var attributes: [DLAAttribute]
            let isFullyConnected = layer.name == "fc"
            if isFullyConnected {
                guard input.shape.reduce(1, *) == layer.inputChannels else {
                    throw BenchmarkError("\(layer.name): input \(input.shape) does not flatten to \(layer.inputChannels) features")
                }
                accumulatorShape = [layer.outputChannels]
                attributes = [DLAAttribute("weight", weight(layer.name + ".weight", [layer.outputChannels, layer.inputChannels], .int8(layer.weights)))]
                macs += layer.outputChannels * layer.inputChannels
            } else {
                guard input.shape[0] == layer.inputChannels else {
                    throw BenchmarkError("\(layer.name): input has \(input.shape[0]) channels, the layer expects \(layer.inputChannels)")
                }
                let outputHeight = (input.shape[1] + 2 * layer.padding - layer.kernel) / layer.stride + 1
                let outputWidth = (input.shape[2] + 2 * layer.padding - layer.kernel) / layer.stride + 1
                accumulatorShape = [layer.outputChannels, outputHeight, outputWidth]
                let s = Int64(layer.stride), p = Int64(layer.padding)
                attributes = [
                    DLAAttribute("weight", weight(layer.name + ".weight", [layer.outputChannels, layer.inputChannels, layer.kernel, layer.kernel],
                                                  .int8(layer.weights))),
                    DLAAttribute("stride", .ints([s, s])),
                    DLAAttribute("padding", .ints([p, p, p, p])),
                    DLAAttribute("dilation", .ints([1, 1])),
                    DLAAttribute("groups", .int(1)),
                ]
                macs += layer.outputChannels * layer.reductionLength * outputHeight * outputWidth
            }
            let accumulators = activation(layer.name + ".acc", accumulatorShape, .int32, scale: nil)
            operations.append(DLAOperation(name: layer.name, unit: .convolution, type: isFullyConnected ? "fc" : "conv",
                                           inputs: [input.id], outputs: [accumulators.id], attributes: attributes))

            // SDP: the accumulator of channel k holds real / (inputScale · weightScale_k).
            let fractionBits = residual == nil ? 0 : 8
            var bias: [Int32] = []
            var real: [Double] = []
            for k in 0..<layer.outputChannels {
                let accumulatorScale = Double(input.scale) * Double(layer.weightScales[k])
                guard let code = Int32(exactly: (Double(layer.bias[k]) / accumulatorScale).rounded(.toNearestOrAwayFromZero)) else {
                    throw BenchmarkError("\(layer.name): folded bias of channel \(k) exceeds int32")
                }
                bias.append(code)
                real.append(accumulatorScale / Double(outputScale) * Double(1 << fractionBits))
            }
            guard let largest = real.max(), let common = FixedPointScale.approximating(largest) else {
                throw BenchmarkError("\(layer.name): no 16-bit fixed-point multiplier for \(real.max() ?? .nan)")
            }
            let factor = Double(sign: .plus, exponent: Int(common.shift), significand: 1)
            let multipliers = real.map { Int32(min(32767, ($0 * factor).rounded(.toNearestOrAwayFromZero))) }
            let channels = layer.outputChannels
            var sdp = [
                DLAAttribute("bias", weight(layer.name + ".bias", [channels], .int32(bias))),
                DLAAttribute("scale", weight(layer.name + ".multiplier", [channels], .int32(multipliers))),
                DLAAttribute("scale_shift", .int(Int64(common.shift))),
            ]
            var inputs = [accumulators.id]
            if let residual {
                let alignment = Double(residual.scale) / Double(outputScale) * Double(1 << fractionBits)
                guard let operand = FixedPointScale.approximating(alignment) else {
                    throw BenchmarkError("\(output): no 16-bit fixed-point alignment for the shortcut (\(alignment))")
                }
                inputs.append(residual.id)
                sdp += [DLAAttribute("ew_op", .string("add")),
                        DLAAttribute("ew_offset", .int(0)),
                        DLAAttribute("ew_scale", .int(Int64(operand.scale))),
                        DLAAttribute("ew_shift", .int(Int64(operand.shift)))]
            }
            sdp += [DLAAttribute("activation", .string(relu ? "relu" : "none")),
                    DLAAttribute("cvt_offset", .int(0)),
                    DLAAttribute("cvt_scale", .int(1)),
                    DLAAttribute("cvt_shift", .int(Int64(fractionBits)))]
            let result = activation(output, accumulatorShape, .int8, scale: outputScale)
            operations.append(DLAOperation(name: output + ".sdp", unit: .sdp, type: "sdp", inputs: inputs, outputs: [result.id],
                                           attributes: sdp))
            probes.append(result)
            return result
        }

        /// PDP pooling; the output keeps the input's scale (max and average need no requantization).
        mutating func pool(_ name: String, _ input: Activation, method: String, kernel: Int, stride: Int, padding: Int) throws -> Activation {
            let outputHeight = (input.shape[1] + 2 * padding - kernel) / stride + 1
            let outputWidth = (input.shape[2] + 2 * padding - kernel) / stride + 1
            let result = activation(name, [input.shape[0], outputHeight, outputWidth], .int8, scale: input.scale)
            let k = Int64(kernel), s = Int64(stride), p = Int64(padding)
            operations.append(DLAOperation(name: name, unit: .pdp, type: "pool", inputs: [input.id], outputs: [result.id], attributes: [
                DLAAttribute("method", .string(method)),
                DLAAttribute("kernel", .ints([k, k])),
                DLAAttribute("stride", .ints([s, s])),
                DLAAttribute("padding", .ints([p, p, p, p])),
            ]))
            return result
        }
    }
}
