import DLAFormat
import Testing
@testable import DLAEngine

/// Malformed graphs are refused with errors naming the operation, never a trap.
struct ModelAdapterTests {
    static func load(_ operation: DLAOperation, output: DLATensorSpec, weights: [DLAWeightTensor] = []) throws -> DLALoadedModel {
        let input = DLATensorSpec(name: "x", shape: [-1, 2, 4, 4], dataType: .int8, quantization: .perTensor(scale: 1, zeroPoint: 0))
        let metadata = DLAMetadata(name: "bad", producer: "DLAEngineTests", createdAt: 0, targetProfile: "nv_full", precision: "int8",
                                   inputs: [input], outputs: [output])
        let graph = DLAGraph(tensors: [input, output], inputs: [0], outputs: [1], operations: [operation])
        return try DLAFile.read(try DLAFile.write(DLAModel(metadata: metadata, graph: graph, weights: weights), environment: [:]))
    }

    static let int8Output = DLATensorSpec(name: "y", shape: [-1, 2, 4, 4], dataType: .int8)

    @Test func unknownOperationsAndBadPermutationsAreNamed() throws {
        let unknown = try Self.load(DLAOperation(name: "mystery", unit: .pdp, type: "warp", inputs: [0], outputs: [1]), output: Self.int8Output)
        #expect(throws: EngineError.invalidParameter(name: "operation 'mystery'", expected: "a known unit/type (see docs/EMULATOR.md, Operation vocabulary)", found: "pdp warp")) {
            try ModelAdapter.compile(unknown)
        }
        let transpose = try Self.load(DLAOperation(name: "t", unit: .rubik, type: "transpose", inputs: [0], outputs: [1],
                                                   attributes: [DLAAttribute("perm", .ints([0, 1, 2, 7]))]), output: Self.int8Output)
        #expect(throws: EngineError.self) { try ModelAdapter.compile(transpose) }
    }

    @Test func extremeAttributesAndAsymmetricWeightsAreRefused() throws {
        let weight = DLAWeightTensor(name: "w", shape: [2, 2, 1, 1], values: .int8([1, 2, 3, 4]), quantization: .perTensor(scale: 0.5, zeroPoint: 3))
        let convOutput = DLATensorSpec(name: "y", shape: [-1, 2, 4, 4], dataType: .int32)
        let asymmetric = try Self.load(DLAOperation(name: "c", unit: .convolution, type: "conv", inputs: [0], outputs: [1],
                                                    attributes: [DLAAttribute("weight", .weight(0))]), output: convOutput, weights: [weight])
        #expect(throws: EngineError.self) { try ModelAdapter.compile(asymmetric) }
        let symmetric = DLAWeightTensor(name: "w", shape: [2, 2, 1, 1], values: .int8([1, 2, 3, 4]))
        let extreme = try Self.load(DLAOperation(name: "c", unit: .convolution, type: "conv", inputs: [0], outputs: [1],
                                                 attributes: [DLAAttribute("weight", .weight(0)), DLAAttribute("groups", .int(Int64.min))]),
                                    output: convOutput, weights: [symmetric])
        #expect(throws: EngineError.self) { try ModelAdapter.compile(extreme) }
        let fine = try Self.load(DLAOperation(name: "c", unit: .convolution, type: "conv", inputs: [0], outputs: [1],
                                              attributes: [DLAAttribute("weight", .weight(0))]), output: convOutput, weights: [symmetric])
        #expect(try ModelAdapter.compile(fine).operations.count == 1)
    }
}
