import DLAEngine
import DLAFormat
import DLANumerics

/// Turns an interchange model into a `.dla` model with the engine's operation vocabulary
/// (docs/EMULATOR.md): fc / conv on the convolution core into INT32, then one SDP per layer that
/// adds the bias (with −input_zero_point·ΣW folded in), requantizes per channel with a 16-bit
/// multiplier and a common shift, applies ReLU and adds the output zero point in the converter;
/// max-pool on PDP; flatten on the CPU path (a reshape, no data movement).
///
/// The peers requantize in float32 (`round_half_even(float32(acc)·m_c)`); SDP's fixed point
/// (`round_half_away(acc·s_c >> shift)`) can differ from it by one output LSB where the 15-bit
/// multiplier or the tie rule tips the rounding. The benchmark reports how often.
enum EngineModelBuilder {
    static func build(_ model: InterchangeModel, directory: String) throws -> DLAModel {
        var tensors: [DLATensorSpec] = []
        var weights: [DLAWeightTensor] = []
        var operations: [DLAOperation] = []

        func addTensor(_ name: String, _ shape: [Int], _ type: DLADataType, _ quantization: DLAQuantization) -> Int {
            tensors.append(DLATensorSpec(name: name, shape: [DLATensorSpec.symbolicDimension] + shape.map(Int64.init), dataType: type,
                                         quantization: quantization))
            return tensors.count - 1
        }
        func addWeight(_ tensor: DLAWeightTensor) -> DLAAttributeValue {
            weights.append(tensor)
            return .weight(weights.count - 1)
        }

        var current = addTensor("input", model.input.shape, .int8, .perTensor(scale: model.input.scale, zeroPoint: model.input.zeroPoint))
        for layer in model.layers {
            let outputQuantization = DLAQuantization.perTensor(scale: layer.outputScale, zeroPoint: layer.outputZeroPoint)
            switch layer.type {
            case "fc", "conv":
                guard let weightFile = layer.weight, let weightShape = layer.weightShape, let scalesFile = layer.weightScales,
                      let biasFile = layer.bias else {
                    throw BenchmarkError("layer \(layer.name): fc/conv without weight, weight_shape, weight_scales or bias")
                }
                let weight = try NPYFile.int8(directory + "/" + weightFile)
                guard weight.shape == weightShape else {
                    throw BenchmarkError("layer \(layer.name): weight shape \(weight.shape), model.json says \(weightShape)")
                }
                let weightScales = try NPYFile.float32(directory + "/" + scalesFile).values
                let bias = try NPYFile.int32(directory + "/" + biasFile)
                let channels = weightShape[0]
                guard weightScales.count == channels, bias.count == channels else {
                    throw BenchmarkError("layer \(layer.name): \(channels) channels, \(weightScales.count) scales, \(bias.count) biases")
                }
                let sdp = try requantization(layer, weight: weight.values, channels: channels, weightScales: weightScales, bias: bias)
                let accumulators = addTensor(layer.name + "_acc", layer.outputShape, .int32, .none)
                var attributes = [DLAAttribute("weight", addWeight(DLAWeightTensor(name: layer.name + "_weight", shape: weightShape,
                                                                                   values: .int8(weight.values))))]
                if layer.type == "conv" {
                    let stride = Int64(layer.stride ?? 1), padding = Int64(layer.padding ?? 0), dilation = Int64(layer.dilation ?? 1)
                    attributes += [DLAAttribute("stride", .ints([stride, stride])),
                                   DLAAttribute("padding", .ints([padding, padding, padding, padding])),
                                   DLAAttribute("dilation", .ints([dilation, dilation])),
                                   DLAAttribute("groups", .int(Int64(layer.groups ?? 1)))]
                }
                operations.append(DLAOperation(name: layer.name, unit: .convolution, type: layer.type, inputs: [current],
                                               outputs: [accumulators], attributes: attributes))
                let output = addTensor(layer.name + "_out", layer.outputShape, .int8, outputQuantization)
                operations.append(DLAOperation(
                    name: layer.name + "_sdp", unit: .sdp, type: "sdp", inputs: [accumulators], outputs: [output],
                    attributes: [
                        DLAAttribute("bias", addWeight(DLAWeightTensor(name: layer.name + "_bias", shape: [channels], values: .int32(sdp.bias)))),
                        DLAAttribute("scale", addWeight(DLAWeightTensor(name: layer.name + "_scale", shape: [channels], values: .int32(sdp.multipliers)))),
                        DLAAttribute("scale_shift", .int(Int64(sdp.shift))),
                        DLAAttribute("activation", .string(layer.relu == true ? "relu" : "none")),
                        DLAAttribute("cvt_offset", .int(-Int64(layer.outputZeroPoint))),
                        DLAAttribute("cvt_scale", .int(1)),
                        DLAAttribute("cvt_shift", .int(0)),
                    ]))
                current = output
            case "maxpool":
                guard let kernel = layer.kernel else { throw BenchmarkError("layer \(layer.name): maxpool without kernel") }
                let stride = Int64(layer.stride ?? kernel), padding = Int64(layer.padding ?? 0)
                let output = addTensor(layer.name + "_out", layer.outputShape, .int8, outputQuantization)
                operations.append(DLAOperation(name: layer.name, unit: .pdp, type: "pool", inputs: [current], outputs: [output], attributes: [
                    DLAAttribute("method", .string("max")),
                    DLAAttribute("kernel", .ints([Int64(kernel), Int64(kernel)])),
                    DLAAttribute("stride", .ints([stride, stride])),
                    DLAAttribute("padding", .ints([padding, padding, padding, padding])),
                ]))
                current = output
            case "flatten":
                let output = addTensor(layer.name + "_out", layer.outputShape, .int8, outputQuantization)
                operations.append(DLAOperation(name: layer.name, unit: .cpu, type: "flatten", inputs: [current], outputs: [output]))
                current = output
            case let other:
                throw BenchmarkError("layer \(layer.name): unknown type '\(other)' (expected fc, conv, maxpool or flatten)")
            }
        }
        let metadata = DLAMetadata(name: model.name, producer: "EngineBenchmarks", createdAt: 0, targetProfile: "nv_full",
                                   precision: "int8", inputs: [tensors[0]], outputs: [tensors[current]])
        let graph = DLAGraph(tensors: tensors, inputs: [0], outputs: [current], operations: operations)
        return DLAModel(metadata: metadata, graph: graph, weights: weights)
    }

    struct Requantization {
        var bias: [Int32]
        var multipliers: [Int32]
        var shift: Int
    }

    /// SDP's bias and per-channel multipliers for one layer. The real multiplier per channel is
    /// the peers' `m_c = float32(float32(input_scale·weight_scale_c) / output_scale)`; SDP has one
    /// shift for all channels, so the largest multiplier sets it (`FixedPointScale`, 15
    /// significant bits) and the others share it.
    static func requantization(_ layer: InterchangeModel.Layer, weight: [Int8], channels: Int, weightScales: [Float],
                               bias: [Int32]) throws -> Requantization {
        let reduction = weight.count / channels
        var folded: [Int32] = []
        for c in 0..<channels {
            var sum: Int64 = 0
            for w in weight[(c * reduction)..<((c + 1) * reduction)] { sum += Int64(w) }
            let value = Int64(bias[c]) - Int64(layer.inputZeroPoint) * sum
            guard let exact = Int32(exactly: value) else {
                throw BenchmarkError("layer \(layer.name): folded bias \(value) of channel \(c) exceeds int32")
            }
            folded.append(exact)
        }
        let real = weightScales.map { Double(Float(layer.inputScale * $0) / layer.outputScale) }
        guard let largest = real.max(), let common = FixedPointScale.approximating(largest) else {
            throw BenchmarkError("layer \(layer.name): no 16-bit fixed-point multiplier for \(real.max() ?? .nan)")
        }
        let factor = Double(sign: .plus, exponent: Int(common.shift), significand: 1)
        let multipliers = real.map { Int32(min(32767, ($0 * factor).rounded(.toNearestOrAwayFromZero))) }
        return Requantization(bias: folded, multipliers: multipliers, shift: Int(common.shift))
    }
}
