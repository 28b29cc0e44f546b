import DLAFormat
import DLANumerics

/// Collects a `.dla` graph as the lowering emits it: tensors by the folded graph's names,
/// weights, operations.
struct ModelBuilder {
    var tensors: [DLATensorSpec] = []
    var weights: [DLAWeightTensor] = []
    var operations: [DLAOperation] = []
    /// Folded-graph tensor name → index in `tensors`.
    var index: [String: Int] = [:]

    mutating func addTensor(_ name: String, sampleShape: [Int], type: DLADataType, quantization: DLAQuantization) -> Int {
        var unique = name
        var suffix = 1
        while index[unique] != nil || tensors.contains(where: { $0.name == unique }) {
            suffix += 1
            unique = "\(name)_\(suffix)"
        }
        tensors.append(DLATensorSpec(name: unique, shape: [DLATensorSpec.symbolicDimension] + sampleShape.map(Int64.init),
                                     dataType: type, quantization: quantization))
        index[name] = tensors.count - 1
        return tensors.count - 1
    }

    mutating func addWeight(_ name: String, shape: [Int], values: DLATensorValues,
                            quantization: DLAQuantization = .none) -> DLAAttributeValue {
        weights.append(DLAWeightTensor(name: name, shape: shape, values: values, quantization: quantization))
        return .weight(weights.count - 1)
    }

    mutating func emit(_ name: String, _ unit: DLAUnit, _ type: String, inputs: [Int], output: Int, _ attributes: [DLAAttribute] = []) {
        operations.append(DLAOperation(name: name, unit: unit, type: type, inputs: inputs, outputs: [output], attributes: attributes))
    }
}
