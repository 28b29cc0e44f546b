import DLAEngine
import DLAFormat
import DLANumerics

public struct CompileOptions: Sendable {
    /// Model name in the `.dla` metadata (default: the ONNX graph's name).
    public var name: String?
    /// Required for float models; a quantized model's own precision otherwise.
    public var precision: Precision?
    /// Float models (INT8 / FP8): representative inputs, in the order of the model's inputs,
    /// each `[N, …input shape]` with the same N.
    public var calibration: [FloatBatch] = []
    public var calibrationMethod: CalibrationMethod = .minMax
    /// The hardware profile the model targets (`HardwareProfile.all`).
    public var profile: String = "nv_full"
    public var compression = CompressionOptions()
    public var createdAt: Int64 = 0
    public var modelVersion: Int64 = 1
    public var description: String = ""
    /// Inputs (float32 rows) whose emulator outputs are stored in the file as self-test vectors.
    public var selfTestInputs: FloatBatch?
    /// False keeps a quantized product's rounding and the bias Add after it as two SDP operations
    /// (`LoweringPlan`'s requantization): the fused layer's reference in tests.
    var fusesRequantizedBias = true

    public init() {}
}

/// One accelerator layer with weights, for the report (Deep Compression's Table 1 columns).
public struct LayerReport: Sendable, Hashable {
    public var name: String
    public var unit: String
    public var weightShape: [Int]
    public var parameters: Int
    public var fp32Bytes: Int
    public var storedBytes: Int
    public var density: Double
    public var bitsPerWeight: Double
    public var encoding: String
    public var compression: LayerCompression
}

public struct Compilation: Sendable {
    public var model: DLAModel
    /// The unsigned `.dla` file (`DLAFile.sign` adds a signature without re-encoding).
    public var fileBytes: [UInt8]
    public var summary: DLAModelSummary
    /// The model as the engine runs it, bound to `profile`.
    public var compiled: CompiledModel
    public var profile: HardwareProfile
    public var precision: Precision
    /// True when the ONNX model carried its own quantization (QDQ / QOperator).
    public var preQuantized: Bool
    public var layers: [LayerReport]
    /// Operations that run on the host CPU because NVDLA lacks them ("softmax 'prob'").
    public var cpuFallbacks: [String]
    /// Per-unit operation counts ("convolution": 3, …).
    public var unitCounts: [String: Int]
}

/// ONNX → `.dla`: fold the model's quantization, plan the hardware groups, calibrate (float
/// models), quantize and compress the weights, lower to the engine's vocabulary, and prove the
/// result loads and runs on the target profile.
public enum Compiler {
    public static func compile(_ graph: Graph, options: CompileOptions,
                               progress: (String) -> Void = { _ in }) throws(CompilerError) -> Compilation {
        guard let profile = HardwareProfile.all.first(where: { $0.name == options.profile }) else {
            throw .invalidOption("unknown profile '\(options.profile)' (known: \(HardwareProfile.all.map(\.name).joined(separator: ", ")))")
        }
        if let sparsity = options.compression.sparsity, !(0..<1).contains(sparsity) {
            throw .invalidOption("--prune \(sparsity): the sparsity must be at least 0 and below 1")
        }
        if let bits = options.compression.shareBits, !(1...8).contains(bits) {
            throw .invalidOption("--share-bits \(bits): give 1 to 8 bits")
        }
        progress("importing")
        let folded = try QuantizedGraphFolding.fold(try ConstantFolding.fold(graph))
        let precision = try choosePrecision(folded, requested: options.precision)
        let shapes = try ShapeInference.infer(folded.graph, batch: 1)
        let plan = try LoweringPlan.make(folded.graph, quantization: folded.activations, fusesRequantizedBias: options.fusesRequantizedBias)

        var quantization = folded.activations
        if folded.isQuantized {
            for group in plan.groups {
                if quantization[group.output] == nil, let source = plan.inheritsQuantization[group.output] {
                    quantization[group.output] = quantization[source]
                }
            }
        } else if precision != .fp16 {
            guard !options.calibration.isEmpty else {
                throw .invalidOption("a float model compiled to \(precision) needs --calibration X.npy (representative inputs) to set activation ranges")
            }
            var symmetric = Set<String>()
            for node in folded.graph.nodes where node.opType == "LRN" { symmetric.formUnion([node.inputs[0], node.outputs[0]]) }
            let calibrator = Calibrator(graph: folded.graph, plan: plan, method: options.calibrationMethod, symmetric: symmetric)
            quantization = try calibrator.quantizations(inputs: options.calibration, precision: precision, progress: progress)
        }

        // Pruning threshold for the global scope: over every layer's real weights.
        var threshold: Double?
        if let sparsity = options.compression.sparsity, options.compression.scope == .global {
            let magnitudes = plan.groups.filter { $0.kind == .linear }.compactMap { group -> [Double]? in
                let node = folded.graph.nodes[group.nodes[0]]
                return folded.graph.constants[node.inputs[1]].map { $0.floatValues.map { Double(abs($0)) } }
            }
            threshold = WeightCompression.globalThreshold(magnitudes, sparsity: sparsity)
        }
        var compressionByLayer: [String: LayerCompression] = [:]
        let compressionOptions = options.compression
        let sharedLimit = (compressionOptions.shareBits.map { 1 << $0 } ?? 32) + 1
        var lowering = Lowering(graph: folded.graph, shapes: shapes, precision: precision, quantization: quantization,
                                quantizedConstants: folded.quantizedConstants, sharedValueLimit: sharedLimit) { weights throws(CompilerError) in
            var record = LayerCompression(prunedWeights: 0, sharedValues: nil, alreadyShared: false)
            if compressionOptions.sparsity != nil {
                record.prunedWeights = WeightCompression.prune(&weights, sparsity: compressionOptions.sparsity, threshold: threshold)
            }
            if let bits = compressionOptions.shareBits {
                let (values, already) = WeightCompression.share(&weights, bits: bits)
                record.sharedValues = values
                record.alreadyShared = already
            }
            compressionByLayer[weights.name] = record
        }
        progress("lowering")
        let dlaGraph = try lowering.lower(plan)
        let metadata = DLAMetadata(
            name: options.name ?? (graph.name.isEmpty ? "model" : graph.name), description: options.description,
            producer: "dlactl compile", createdAt: options.createdAt, targetProfile: profile.name, precision: precision.metadataName,
            modelVersion: options.modelVersion, inputs: dlaGraph.inputs.map { dlaGraph.tensors[$0] },
            outputs: dlaGraph.outputs.map { dlaGraph.tensors[$0] },
            properties: [DLAProperty(key: "source.opset", value: "\(graph.opset)"),
                         DLAProperty(key: "quantization", value: folded.isQuantized ? "from the model (QDQ/QOperator)" :
                                        precision == .fp16 ? "none (fp16)" : "calibrated, \(options.calibrationMethod)")])
        var model = DLAModel(metadata: metadata, graph: dlaGraph, weights: lowering.builder.weights)

        progress("encoding")
        // Encoded once (the encoder tries every encoding per tensor); a second time only to add
        // self-test vectors, which need the compiled model.
        var bytes: [UInt8]
        var loaded: DLALoadedModel
        do {
            bytes = try DLAFile.write(model)
            loaded = try DLAFile.read(bytes)
        } catch {
            throw .invalidModel("the compiled model does not encode: \(error)")
        }
        let compiled: CompiledModel
        do {
            compiled = try ModelAdapter.compile(loaded)
            _ = try Executor(model: compiled, profile: profile)
        } catch {
            throw .profile("the compiled model cannot run on profile \(profile.name): \(error)")
        }
        if let vectors = options.selfTestInputs {
            do {
                model.selfTests = [try SelfTestVectors.record(compiled, profile: profile, inputs: vectors.values, rows: vectors.shape.first ?? 0)]
            } catch {
                throw .invalidOption("--self-test: \(error)")
            }
            do {
                bytes = try DLAFile.write(model)
                loaded = try DLAFile.read(bytes)
            } catch {
                throw .invalidModel("the compiled model does not encode with its self-tests: \(error)")
            }
        }
        let summary = DLAModelSummary(loaded)
        var layers: [LayerReport] = []
        for entry in lowering.layerWeights {
            let indices = [entry.weight] + entry.others
            let tensors = indices.map { summary.tensors[$0] }
            let parameters = tensors.reduce(0) { $0 + $1.elements }
            let stored = tensors.reduce(0) { $0 + $1.storedBytes }
            let weight = summary.tensors[entry.weight]
            let unit = dlaGraph.operations.first { $0.name == entry.layer }?.type ?? "conv"
            layers.append(LayerReport(name: entry.layer, unit: unit, weightShape: weight.shape, parameters: parameters,
                                      fp32Bytes: 4 * parameters, storedBytes: stored, density: weight.density,
                                      bitsPerWeight: Double(stored * 8) / Double(max(weight.elements, 1)), encoding: weight.encoding,
                                      compression: compressionByLayer[weight.name] ?? LayerCompression(prunedWeights: 0, sharedValues: nil, alreadyShared: false)))
        }
        var fallbacks: [String] = []
        var units: [String: Int] = [:]
        for operation in dlaGraph.operations {
            units[operation.unit.description, default: 0] += 1
            if operation.unit == .cpu, !["reshape", "flatten"].contains(operation.type) {
                fallbacks.append("\(operation.type) '\(operation.name)'")
            }
        }
        return Compilation(model: model, fileBytes: bytes, summary: summary, compiled: compiled, profile: profile, precision: precision,
                           preQuantized: folded.isQuantized, layers: layers, cpuFallbacks: fallbacks, unitCounts: units)
    }

    static func choosePrecision(_ folded: FoldedGraph, requested: Precision?) throws(CompilerError) -> Precision {
        guard folded.isQuantized else {
            guard let requested else {
                throw .invalidOption("the model is float: choose --precision int8, fp8-e4m3, fp8-e5m2 or fp16")
            }
            return requested
        }
        let kinds = Set(folded.activations.values.compactMap { Precision($0.kind) })
        guard kinds.count == 1, let own = kinds.first else {
            throw .unsupportedQuantization(node: "the model", detail: "mixes precisions (\(kinds.map(\.rawValue).sorted().joined(separator: ", ")))")
        }
        if let requested, requested != own {
            throw .invalidOption("the model is already quantized to \(own); --precision \(requested) would re-quantize it (compile its float original instead)")
        }
        return own
    }

    /// Top-1 accuracy of a compiled model on the emulator: images `[N, …input]`, labels `[N]`.
    public static func accuracy(of compilation: Compilation, images: FloatBatch, labels: [Int64],
                                threads: Int = 1) throws(CompilerError) -> Double {
        let rows = images.shape.first ?? 0
        guard rows == labels.count, rows > 0 else {
            throw .invalidOption("--validate: \(rows) images but \(labels.count) labels")
        }
        do {
            let executor = try Executor(model: compilation.compiled, profile: compilation.profile, threads: threads)
            let rowSize = images.values.count / rows
            var correct = 0
            var start = 0
            while start < rows {
                let end = min(rows, start + 256)
                let batch = try Tensor(shape: [end - start] + images.shape.dropFirst(), scalars: Array(images.values[(start * rowSize)..<(end * rowSize)]))
                let result = try executor.run([.float32(batch)])
                guard let output = result.outputs.first else { break }
                for (offset, prediction) in Self.argmax(output).enumerated() where Int64(prediction) == labels[start + offset] { correct += 1 }
                start = end
            }
            return Double(correct) / Double(rows)
        } catch {
            throw .invalidOption("--validate: the emulator failed: \(error)")
        }
    }

    /// Per row, the index of the largest output (scales are positive, so codes order as reals).
    static func argmax(_ value: EngineValue) -> [Int] {
        let rows = value.shape.first ?? 0
        func best<T: Comparable>(_ scalars: [T]) -> [Int] {
            let width = scalars.count / max(rows, 1)
            return (0..<rows).map { row in
                var index = 0
                for i in 1..<max(width, 1) where scalars[row * width + i] > scalars[row * width + index] { index = i }
                return index
            }
        }
        switch value {
        case .int8(let t): return best(t.scalars)
        case .int32(let t): return best(t.scalars)
        case .float32(let t): return best(t.scalars)
        }
    }
}
