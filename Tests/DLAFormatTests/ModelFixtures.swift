import DLAFormat

/// Small deterministic models for the format tests.
enum ModelFixtures {
    /// Deterministic pseudo-random numbers (SplitMix64), so test data is the same on every run.
    struct Random {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func chance(_ probability: Double) -> Bool { Double(next() % 1_000_000) / 1_000_000 < probability }
    }

    /// INT8 codes with the given density; nonzeros drawn from `distinct` values.
    static func sparseInt8(count: Int, density: Double, distinct: Int = 255, seed: UInt64 = 1) -> [Int8] {
        var random = Random(state: seed)
        let palette: [Int8] = (0..<distinct).map { Int8(truncatingIfNeeded: $0 % 2 == 0 ? $0 / 2 + 1 : -($0 / 2 + 1)) }
        return (0..<count).map { _ in random.chance(density) ? palette[random.below(palette.count)] : 0 }
    }

    static let metadata = DLAMetadata(
        name: "mlp", description: "test model", producer: "DLAFormatTests", createdAt: 1_700_000_000,
        targetProfile: "nv_full", precision: "int8", modelVersion: 3,
        inputs: [DLATensorSpec(name: "x", shape: [-1, 4], dataType: .int8, quantization: .perTensor(scale: 0.5, zeroPoint: 0))],
        outputs: [DLATensorSpec(name: "y", shape: [-1, 3], dataType: .int8, quantization: .perTensor(scale: 0.25, zeroPoint: -3))],
        properties: [DLAProperty(key: "labels", value: "a,b,c")])

    /// One fully connected op (weight [rows, 4] plus int32 bias) feeding a CPU softmax.
    static func model(weights: [DLAWeightTensor], selfTests: [DLASelfTest] = []) -> DLAModel {
        let tensors = [
            metadata.inputs[0],
            DLATensorSpec(name: "h", shape: [-1, 3], dataType: .int8, quantization: .perTensor(scale: 0.125, zeroPoint: 0)),
            metadata.outputs[0],
        ]
        var attributes = [DLAAttribute("activation", .string("relu")), DLAAttribute("shift", .ints([7, 8])),
                          DLAAttribute("alpha", .float(0.5)), DLAAttribute("table", .floats([1, 2.5])),
                          DLAAttribute("groups", .int(1))]
        for index in weights.indices { attributes.append(DLAAttribute("w\(index)", .weight(index))) }
        let graph = DLAGraph(tensors: tensors, inputs: [0], outputs: [2], operations: [
            DLAOperation(name: "fc1", unit: .convolution, type: "fc", inputs: [0], outputs: [1], attributes: attributes),
            DLAOperation(name: "softmax", unit: .cpu, type: "softmax", inputs: [1], outputs: [2]),
        ])
        return DLAModel(metadata: metadata, graph: graph, weights: weights, selfTests: selfTests)
    }

    static let noEnvironment: [String: String] = [:]

    static func defaultModel() -> DLAModel {
        let weight = DLAWeightTensor(name: "fc1.weight", shape: [3, 4], values: .int8([1, 0, 0, -2, 0, 0, 0, 3, 4, 0, 0, 0]),
                                     quantization: .perChannel(axis: 0, scales: [0.1, 0.2, 0.3], zeroPoints: [0, 0, 0]))
        let bias = DLAWeightTensor(name: "fc1.bias", shape: [3], values: .int32([100, -200, 0]))
        let test = DLASelfTest(name: "ones", inputs: [DLASelfTestTensor(shape: [1, 4], values: .int8([1, 1, 1, 1]))],
                               expectedOutputs: [DLASelfTestTensor(shape: [1, 3], values: .int8([5, -3, 7]))])
        return model(weights: [weight, bias], selfTests: [test])
    }
}
