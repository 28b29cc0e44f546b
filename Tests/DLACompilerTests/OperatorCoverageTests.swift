import DLACompiler
import DLAEngine
import DLAFormat
import Testing

/// The op-coverage fixtures compiled for the accelerator and run on the emulator against the
/// ONNX reference: FP16 (no quantization error to hide a lowering mistake) and INT8 calibrated on
/// the fixture's own inputs.
@Suite struct OperatorCoverageTests {
    /// Every graph output by name, from the fixture's inputs in graph order.
    static func run(_ compilation: Compilation, graph: Graph, inputs: [String: FloatBatch]) throws -> [String: FloatBatch] {
        let values = try graph.inputs.map { input in try #require(inputs[input.name]) }
        return Dictionary(uniqueKeysWithValues: zip(graph.outputs.map(\.name), try EmulatorRun.run(compilation, inputs: values)))
    }

    static func largestDifference(_ a: FloatBatch, _ b: FloatBatch) -> Float {
        zip(a.values, b.values).map { abs($0 - $1) }.max() ?? .infinity
    }

    static func largestMagnitude(_ a: FloatBatch) -> Float { a.values.map(abs).max() ?? 0 }

    @Test(arguments: ["micro-conv-bn-activations", "micro-gemm-variants", "micro-layout", "micro-lookup-activations",
                      "micro-residual-two-inputs", "opset22-unchanged", "external-data"])
    func fp16MatchesTheReference(_ name: String) throws {
        let graph = try FixtureFiles.model(name)
        let (inputs, references) = try FixtureFiles.inputsAndReferences(name)
        var options = CompileOptions()
        options.precision = .fp16
        let compilation = try Compiler.compile(graph, options: options)
        let outputs = try Self.run(compilation, graph: graph, inputs: inputs)
        for (outputName, reference) in references {
            let ours = try #require(outputs[outputName])
            #expect(ours.shape == reference.shape, "\(name) \(outputName)")
            // FP16 activations: about three significant decimal digits of the largest value.
            let bound = 0.01 * max(1, Self.largestMagnitude(reference))
            #expect(Self.largestDifference(ours, reference) <= bound, "\(name) \(outputName): \(Self.largestDifference(ours, reference)) > \(bound)")
        }
    }

    /// INT8 calibrated on the inputs it then runs: every output within 8 of its steps (three
    /// chained INT8 layers of random weights; a wrong scale, zero point or layout is off by far more).
    @Test(arguments: ["micro-conv-bn-activations", "micro-gemm-variants", "micro-layout", "micro-lookup-activations",
                      "micro-lrn-identity-dropout", "micro-residual-two-inputs", "opset22-unchanged"])
    func int8StaysWithinAFewSteps(_ name: String) throws {
        let graph = try FixtureFiles.model(name)
        let (inputs, references) = try FixtureFiles.inputsAndReferences(name)
        var options = CompileOptions()
        options.precision = .int8
        options.calibration = try graph.inputs.map { input in try #require(inputs[input.name]) }
        let compilation = try Compiler.compile(graph, options: options)
        let outputs = try Self.run(compilation, graph: graph, inputs: inputs)
        for (position, output) in graph.outputs.enumerated() {
            let reference = try #require(references[output.name])
            let ours = try #require(outputs[output.name])
            let spec = compilation.model.graph.tensors[compilation.model.graph.outputs[position]]
            guard case .perTensor(let step, _) = spec.quantization else { continue }
            let tolerance = spec.dataType == .int8 ? 8 * step : 0.02 * max(1, Self.largestMagnitude(reference))
            #expect(Self.largestDifference(ours, reference) <= tolerance, "\(name) \(output.name): \(Self.largestDifference(ours, reference)) > \(tolerance)")
        }
    }
}
