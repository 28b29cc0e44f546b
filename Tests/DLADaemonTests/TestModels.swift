import DLAFormat

/// A minimal valid model (one fully connected op) for tests that need real `.dla` bytes.
enum TestModels {
    static func bytes(name: String, modelVersion: Int64 = 1, bias: Int32 = 0) throws -> [UInt8] {
        let input = DLATensorSpec(name: "x", shape: [-1, 4], dataType: .int8, quantization: .perTensor(scale: 0.5, zeroPoint: 0))
        let output = DLATensorSpec(name: "y", shape: [-1, 2], dataType: .int8, quantization: .perTensor(scale: 0.25, zeroPoint: 0))
        let metadata = DLAMetadata(name: name, producer: "DLADaemonTests", createdAt: 1_700_000_000,
                                   targetProfile: "nv_full", precision: "int8", modelVersion: modelVersion,
                                   inputs: [input], outputs: [output])
        let weight = DLAWeightTensor(name: "fc.weight", shape: [2, 4], values: .int8([1, 0, -1, 2, 0, 3, 0, 0]),
                                     quantization: .perTensor(scale: 0.1, zeroPoint: 0))
        let biasTensor = DLAWeightTensor(name: "fc.bias", shape: [2], values: .int32([bias, 0]))
        let graph = DLAGraph(tensors: [input, output], inputs: [0], outputs: [1], operations: [
            DLAOperation(name: "fc", unit: .convolution, type: "fc", inputs: [0], outputs: [1],
                         attributes: [DLAAttribute("weight", .weight(0)), DLAAttribute("bias", .weight(1))]),
        ])
        return try DLAFile.write(DLAModel(metadata: metadata, graph: graph, weights: [weight, biasTensor]), environment: [:])
    }
}
