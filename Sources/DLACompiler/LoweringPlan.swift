/// Which ONNX nodes become one hardware operation group, decided before any number is chosen:
/// Conv/Gemm/MatMul with the bias add, batch norm and activation that follow them become one
/// convolution-core pass plus one SDP program; an element-wise Add takes the activation after it.
/// The tensors between groups are the ones the accelerator materializes, so they — and only
/// they — need a quantization (calibrated for float models, given by QDQ models).
struct LoweringGroup: Sendable {
    enum Kind: Sendable {
        /// Conv / Gemm / MatMul + fused followers.
        case linear
        /// Add of two activations (+ activation).
        case elementwiseAdd
        /// One SDP program on one activation: Relu, Clip, LeakyRelu, PRelu, Sigmoid, Tanh,
        /// BatchNormalization, Mul / Add / Sub / Div by a constant.
        case pointwise
        case pool
        case lrn
        /// Data movement that keeps the input's quantization (Reshape, Flatten, Squeeze,
        /// Unsqueeze, Transpose).
        case layout
        case concat
        case softmax
        /// Identity, Dropout: the output is the input.
        case passThrough
    }

    /// A linear group of an INT8 model that quantizes its product and then adds a bias, as ONNX
    /// Runtime's QDQ and QOperator forms of MatMul + Add (or Conv + Add) do: the first `nodes`
    /// round to `tensor`'s quantization (SDP's BS stage, clipped to its codes), the rest apply
    /// after that rounding (BN stage, activation, converter). One SDP pass keeps both roundings.
    struct Requantization: Sendable {
        var tensor: String
        /// How many of the group's nodes come before the rounding.
        var nodes: Int
    }

    var kind: Kind
    /// Node indices in execution order; the first is the group's anchor.
    var nodes: [Int]
    /// The tensor the group produces.
    var output: String
    var requantization: Requantization?
}

struct LoweringPlan: Sendable {
    var groups: [LoweringGroup]
    /// Tensors that need a quantization: graph inputs and group outputs (softmax outputs only
    /// when the model quantizes them).
    var boundaries: [String]
    /// Group outputs that take their input's quantization (layout, max pooling, pass-through).
    var inheritsQuantization: [String: String]

    static let activationFunctions: Set<String> = ["Relu", "Clip", "LeakyRelu", "PRelu", "Sigmoid", "Tanh"]
    static let layoutOperators: Set<String> = ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose"]

    static let supportedOperators: [String] = [
        "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "DequantizeLinear", "Div", "Dropout", "Flatten", "Gemm",
        "GlobalAveragePool", "GlobalMaxPool", "Identity", "LRN", "LeakyRelu", "MatMul", "MaxPool", "Mul", "PRelu", "QLinearConv",
        "QLinearMatMul", "QuantizeLinear", "Relu", "Reshape", "Sigmoid", "Softmax", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze",
        "com.microsoft.QGemm", "com.microsoft.QLinearAdd", "com.microsoft.QLinearGlobalAveragePool",
        "and on constants (evaluated at compile time): Cast, ConstantOfShape, Gather, Shape, Slice",
    ]

    /// `quantization`: the activations a quantized model quantizes itself (empty for float models);
    /// `fusesRequantizedBias` false leaves a bias Add after a quantized product as its own group.
    static func make(_ graph: Graph, quantization: [String: TensorQuantization],
                     fusesRequantizedBias: Bool) throws(CompilerError) -> LoweringPlan {
        let annotated = Set(quantization.keys)
        var consumers: [String: [Int]] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for input in node.inputs where !input.isEmpty { consumers[input, default: []].append(index) }
        }
        let outputs = Set(graph.outputs.map(\.name))
        func isActivation(_ name: String) -> Bool { graph.constants[name] == nil }
        /// The only node reading `tensor`, when the tensor is free to stay inside a group.
        func follower(_ tensor: String) -> Int? {
            guard !outputs.contains(tensor), !annotated.contains(tensor), let readers = consumers[tensor], readers.count == 1 else { return nil }
            return readers[0]
        }
        func constantInputs(_ node: GraphNode, except activation: String) -> Bool {
            node.inputs.allSatisfy { $0.isEmpty || $0 == activation || graph.constants[$0] != nil }
        }
        /// The only reader of `tensor` when that is an INT8 tensor the model quantized and the
        /// reader an Add of a constant.
        func requantizedBias(after tensor: String) -> Int? {
            guard let q = quantization[tensor], q.kind == .int8 || q.kind == .uint8, !outputs.contains(tensor),
                  let readers = consumers[tensor], readers.count == 1 else { return nil }
            let add = graph.nodes[readers[0]]
            guard add.domain.isEmpty, add.opType == "Add", add.inputs.count == 2, constantInputs(add, except: tensor),
                  add.inputs.filter({ $0 == tensor }).count == 1 else { return nil }
            return readers[0]
        }
        /// The only reader of the quantized `tensor` when it is a ReLU or Clip whose output keeps
        /// that quantization: on codes it is a clamp, exact in the same SDP pass.
        func sameQuantizationActivation(after tensor: String) -> Int? {
            guard let q = quantization[tensor], !outputs.contains(tensor), let readers = consumers[tensor], readers.count == 1 else { return nil }
            let candidate = graph.nodes[readers[0]]
            guard candidate.domain.isEmpty, ["Relu", "Clip"].contains(candidate.opType), constantInputs(candidate, except: tensor),
                  let result = candidate.outputs.first, quantization[result] == q else { return nil }
            return readers[0]
        }

        var groups: [LoweringGroup] = []
        var taken = Set<Int>()
        var inherits: [String: String] = [:]
        for (index, node) in graph.nodes.enumerated() where !taken.contains(index) {
            guard node.domain.isEmpty else {
                throw .unsupportedOperator(node: node.name, opType: node.opType, domain: node.domain, supported: supportedOperators)
            }
            var members = [index]
            var output = node.outputs.first ?? ""
            var requantization: LoweringGroup.Requantization?
            let kind: LoweringGroup.Kind
            switch node.opType {
            case "Conv", "Gemm", "MatMul":
                kind = .linear
                var allowBias = node.opType == "MatMul" || (node.opType == "Conv" && node.inputs.count < 3)
                var allowNormalization = node.opType == "Conv"
                var allowActivation = true
                while let next = follower(output) {
                    let candidate = graph.nodes[next]
                    guard candidate.domain.isEmpty, constantInputs(candidate, except: output) else { break }
                    if allowBias, candidate.opType == "Add" {
                        allowBias = false
                    } else if allowNormalization, candidate.opType == "BatchNormalization" {
                        allowNormalization = false
                        allowBias = false
                    } else if allowActivation, activationFunctions.contains(candidate.opType) {
                        allowActivation = false
                        allowBias = false
                        allowNormalization = false
                    } else {
                        break
                    }
                    members.append(next)
                    output = candidate.outputs[0]
                    if !allowActivation { break }
                }
                // A quantized product biased after its rounding (MatMul → QuantizeLinear → Add):
                // the Add, and a ReLU / Clip that keeps its quantization, join as SDP's BN stage.
                let plainProduct = allowActivation && !members.contains { graph.nodes[$0].opType == "BatchNormalization" }
                if fusesRequantizedBias, plainProduct, let add = requantizedBias(after: output) {
                    requantization = LoweringGroup.Requantization(tensor: output, nodes: members.count)
                    members.append(add)
                    output = graph.nodes[add].outputs[0]
                    if let next = follower(output), ["Relu", "Clip"].contains(graph.nodes[next].opType),
                       graph.nodes[next].domain.isEmpty, constantInputs(graph.nodes[next], except: output) {
                        members.append(next)
                        output = graph.nodes[next].outputs[0]
                    } else if let activation = sameQuantizationActivation(after: output) {
                        members.append(activation)
                        output = graph.nodes[activation].outputs[0]
                    }
                }
            case "Add" where node.inputs.count == 2 && isActivation(node.inputs[0]) && isActivation(node.inputs[1]):
                kind = .elementwiseAdd
                if let next = follower(output), ["Relu", "Clip"].contains(graph.nodes[next].opType),
                   constantInputs(graph.nodes[next], except: output) {
                    members.append(next)
                    output = graph.nodes[next].outputs[0]
                }
            case "Relu", "Clip", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "BatchNormalization", "Mul", "Add", "Sub", "Div":
                guard constantInputs(node, except: node.inputs[0]) else {
                    throw .unsupportedPattern(node: node.label, detail: "\(node.opType) of two activations (only Add of two activations runs on SDP)")
                }
                kind = .pointwise
            case "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool":
                kind = .pool
                if node.opType.contains("MaxPool") { inherits[output] = node.inputs[0] }
            case "LRN":
                kind = .lrn
            case let op where layoutOperators.contains(op):
                kind = .layout
                inherits[output] = node.inputs[0]
            case "Concat":
                kind = .concat
            case "Softmax":
                kind = .softmax
            case "Identity", "Dropout":
                kind = .passThrough
                inherits[output] = node.inputs[0]
            case let op where ConstantFolding.foldable.contains(op):
                throw .unsupportedPattern(node: node.label, detail: "\(op) runs only at compile time, on constants and static shapes; here it depends on activation values")
            default:
                throw .unsupportedOperator(node: node.name, opType: node.opType, domain: node.domain, supported: supportedOperators)
            }
            taken.formUnion(members)
            groups.append(LoweringGroup(kind: kind, nodes: members, output: output, requantization: requantization))
        }
        var boundaries = graph.inputs.map(\.name)
        for group in groups where group.kind != .softmax || annotated.contains(group.output) {
            boundaries += [group.requantization?.tensor, group.output].compactMap { $0 }
        }
        return LoweringPlan(groups: groups, boundaries: boundaries, inheritsQuantization: inherits)
    }
}
