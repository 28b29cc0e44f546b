import DLACompiler
import DLAEngine
import DLAFormat
import Foundation
import Testing

/// Compiled models run on the emulator and are compared with the runtimes that produced the
/// fixtures' reference outputs (ONNX Runtime for INT8, the ONNX reference evaluator for FP8 and
/// float models).
enum EmulatorRun {
    /// Every graph output, dequantized, of the compiled model on `inputs` (one per graph input).
    static func run(_ compilation: Compilation, inputs: [FloatBatch]) throws -> [FloatBatch] {
        let executor = try Executor(model: compilation.compiled, profile: compilation.profile)
        let result = try executor.run(try inputs.map { .float32(try Tensor(shape: $0.shape, scalars: $0.values)) })
        let graph = compilation.model.graph
        return zip(result.outputs, graph.outputs).map { output, index in
            var scale: Float = 1, zeroPoint: Float = 0
            if case .perTensor(let s, let z) = graph.tensors[index].quantization { scale = s; zeroPoint = Float(z) }
            switch output {
            case .int8(let t): return FloatBatch(shape: t.shape, values: t.scalars.map { scale * (Float($0) - zeroPoint) })
            case .int32(let t): return FloatBatch(shape: t.shape, values: t.scalars.map(Float.init))
            case .float32(let t): return FloatBatch(shape: t.shape, values: t.scalars.map { $0 * scale })
            }
        }
    }

    /// The first graph output on a one-input model.
    static func outputs(_ compilation: Compilation, input: FloatBatch) throws -> FloatBatch {
        try run(compilation, inputs: [input])[0]
    }

    static func agreement(_ a: [Int], _ b: [Int]) -> Double {
        Double(zip(a, b).filter { $0 == $1 }.count) / Double(a.count)
    }
}

@Suite struct QuantizedModelTests {
    /// ORT-quantized models keep their scales: top-1 agrees with ONNX Runtime on ≥ 99.5 % and
    /// ≥ 99.9 % of logits are within one output step.
    @Test(arguments: ["mlp-int8-qdq", "mlp-int8-qoperator", "lenet5-int8-qdq", "lenet5-uint8-qoperator"])
    func agreesWithONNXRuntime(_ name: String) throws {
        let rows = 300
        let images = try FixtureFiles.batch(name.hasPrefix("mlp") ? "data/mnist-test-300.images-flat.npy" : "data/mnist-test-300.images-nchw.npy", rows: rows)
        let reference = try FixtureFiles.batch("outputs/\(name).logits.npy", rows: rows)
        let compilation = try Compiler.compile(try FixtureFiles.model(name), options: CompileOptions())
        #expect(compilation.precision == .int8)
        #expect(compilation.preQuantized)
        let ours = try EmulatorRun.outputs(compilation, input: images)
        #expect(EmulatorRun.agreement(FixtureFiles.top1(ours), FixtureFiles.top1(reference)) >= 0.995)
        let spec = compilation.model.graph.tensors[compilation.model.graph.outputs[0]]
        guard case .perTensor(let step, _) = spec.quantization else { Issue.record("output is not per-tensor quantized"); return }
        let within = zip(ours.values, reference.values).filter { abs($0 - $1) <= step * 1.001 }.count
        #expect(Double(within) / Double(ours.values.count) >= 0.999)
    }

    /// FP8 Q/DQ graphs (E4M3FN saturating, E5M2 non-saturating) agree with the ONNX reference
    /// evaluator on top-1; their values differ only by the summation order.
    @Test(arguments: ["mlp-fp8-e4m3fn", "mlp-fp8-e5m2"])
    func fp8AgreesWithReference(_ name: String) throws {
        let images = try FixtureFiles.batch("data/mnist-test-300.images-flat.npy", rows: 200)
        let reference = try FixtureFiles.batch("outputs/\(name).logits.npy", rows: 200)
        let compilation = try Compiler.compile(try FixtureFiles.model(name), options: CompileOptions())
        #expect(compilation.precision == (name.hasSuffix("e5m2") ? .fp8e5m2 : .fp8e4m3))
        let ours = try EmulatorRun.outputs(compilation, input: images)
        #expect(FixtureFiles.top1(ours) == FixtureFiles.top1(reference))
        let largest = zip(ours.values, reference.values).map { abs($0 - $1) }.max() ?? .infinity
        #expect(largest < 1e-3)
    }

    @Test func requestingAnotherPrecisionForAQuantizedModelIsRefused() throws {
        var options = CompileOptions()
        options.precision = .fp16
        #expect(throws: CompilerError.self) { try Compiler.compile(try FixtureFiles.model("mlp-int8-qdq"), options: options) }
    }
}

@Suite struct FloatModelTests {
    /// Float models compiled to INT8, FP8 and FP16 lose at most 0.5 pp of top-1 (here: on the 300
    /// test images, against the float reference's accuracy).
    @Test(arguments: [("mlp-float", DLACompiler.Precision.int8), ("mlp-float", .fp8e4m3), ("mlp-float", .fp16),
                      ("lenet5-float", .int8), ("lenet5-float", .fp8e4m3)])
    func quantizedKeepsAccuracy(_ name: String, _ precision: DLACompiler.Precision) throws {
        let flat = name.hasPrefix("mlp")
        let rows = 300
        let images = try FixtureFiles.batch(flat ? "data/mnist-test-300.images-flat.npy" : "data/mnist-test-300.images-nchw.npy", rows: rows)
        let labels = try FixtureFiles.labels(rows: rows).map(Int.init)
        let reference = FixtureFiles.top1(try FixtureFiles.batch("outputs/\(name).logits.npy", rows: rows))
        var calibration = try FixtureFiles.batch("data/mnist-train-100.images-flat.npy")
        if !flat { calibration.shape = [calibration.shape[0], 1, 28, 28] }
        var options = CompileOptions()
        options.precision = precision
        options.calibration = [calibration]
        let compilation = try Compiler.compile(try FixtureFiles.model(name), options: options)
        #expect(!compilation.preQuantized)
        let ours = FixtureFiles.top1(try EmulatorRun.outputs(compilation, input: images))
        let referenceAccuracy = EmulatorRun.agreement(reference, labels)
        let ourAccuracy = EmulatorRun.agreement(ours, labels)
        #expect(referenceAccuracy - ourAccuracy <= 0.005 + 1e-9, "\(name) \(precision): \(ourAccuracy) vs \(referenceAccuracy)")
    }

    @Test func floatModelWithoutPrecisionOrCalibrationIsRefused() throws {
        let graph = try FixtureFiles.model("mlp-float")
        #expect(throws: CompilerError.self) { try Compiler.compile(graph, options: CompileOptions()) }
        var options = CompileOptions()
        options.precision = .int8
        do {
            _ = try Compiler.compile(graph, options: options)
            Issue.record("compiled a float model to INT8 without calibration")
        } catch {
            #expect(error.description.contains("--calibration"))
        }
    }

    /// A residual network: Conv, Add of two activations on SDP's element-wise path, a global
    /// average pool over 28×28 as a PDP cascade (7×7 then 4×4), Gemm.
    @Test func residualNetworkInFP16MatchesTheReference() throws {
        let images = try FixtureFiles.batch("data/mnist-test-300.images-nchw.npy", rows: 20)
        let reference = try FixtureFiles.batch("outputs/residual-cnn-float.logits.npy", rows: 20)
        var options = CompileOptions()
        options.precision = .fp16
        let compilation = try Compiler.compile(try FixtureFiles.model("residual-cnn-float"), options: options)
        #expect(compilation.unitCounts["pdp"] == 2)
        let ours = try EmulatorRun.outputs(compilation, input: images)
        let largest = zip(ours.values, reference.values).map { abs($0 - $1) }.max() ?? .infinity
        #expect(largest < 0.01)
    }

    @Test func softmaxIsAnnouncedAsCPUFallback() throws {
        var options = CompileOptions()
        options.precision = .fp16
        let compilation = try Compiler.compile(try FixtureFiles.model("mlp-float-softmax"), options: options)
        #expect(compilation.cpuFallbacks.count == 1)
        #expect(compilation.cpuFallbacks.first?.hasPrefix("softmax") == true)
    }

    /// nv_small has no SDP element-wise unit: the compiler names the operation and capability.
    @Test func profileWithoutACapabilityIsRefused() throws {
        var options = CompileOptions()
        options.precision = .int8
        options.profile = "nv_small"
        options.calibration = [FloatBatch(shape: [2, 1, 28, 28], values: (0..<(2 * 784)).map { Float($0 % 97) / 97 })]
        let graph = try FixtureFiles.model("residual-cnn-float")
        do {
            _ = try Compiler.compile(graph, options: options)
            Issue.record("compiled an element-wise add for nv_small")
        } catch {
            #expect(error.description.contains("nv_small"))
            #expect(error.description.contains("SDP_EW"))
        }
    }
}

@Suite struct BadModelTests {
    @Test(arguments: ["bad-garbage", "bad-truncated", "bad-unsupported-op", "bad-inconsistent-shapes", "bad-opset23-changed-op", "bad-missing-tensor"])
    func refusedWithOneLine(_ name: String) throws {
        do {
            let graph = try ONNXImporter.load(path: FixtureFiles.path("models/\(name).onnx"))
            var options = CompileOptions()
            options.precision = .fp16
            _ = try Compiler.compile(graph, options: options)
            Issue.record("\(name) compiled")
        } catch {
            #expect(!error.description.contains("\n"))
            switch name {
            case "bad-garbage", "bad-truncated": #expect(error.description.hasPrefix("not an ONNX model"))
            case "bad-unsupported-op":
                #expect(error.description.contains("Einsum"))
                #expect(error.description.contains("'y'"))
                #expect(error.description.contains("Conv"))
            case "bad-inconsistent-shapes": #expect(error.description.contains("inconsistent shapes"))
            case "bad-opset23-changed-op": #expect(error.description.contains("precision"))
            default: #expect(error.description.contains("fc.weight"))
            }
        }
    }

    @Test func externalDataBesideTheModelIsLoaded() throws {
        let graph = try FixtureFiles.model("external-data")
        #expect(graph.constants.values.contains { $0.count * 4 == 128 })
        #expect(throws: CompilerError.self) {
            try ONNXImporter.importModel(Data(contentsOf: URL(fileURLWithPath: FixtureFiles.path("models/external-data.onnx"))))
        }
    }
}
