import DLAFormat
import DLANumerics

/// Test vectors a `.dla` carries (`DLASelfTest`): inputs in the model's input types (INT8 codes,
/// FP8/FP16 bit patterns, float32 for an input an SDP converts) and the outputs the emulator gives for them, bit for bit. The compiler
/// records them; a loader runs them before it trusts a model on this machine.
public enum SelfTestVectors {
    /// Runs `inputs` (float32 rows `[N, …input shape]`, one input model) and records the vectors.
    public static func record(_ model: CompiledModel, profile: HardwareProfile, inputs: [Float], rows: Int,
                              name: String = "self-test") throws(EngineError) -> DLASelfTest {
        guard model.inputs.count == 1 else {
            throw .invalidParameter(name: "self-test inputs", expected: "a model with one input", found: "\(model.inputs.count) inputs")
        }
        let spec = model.tensors[model.inputs[0]]
        let shape = [rows] + spec.sampleShape
        let q = spec.quantization ?? ActivationQuantization(scale: 1, zeroPoint: 0)
        let stored: DLATensorValues
        switch spec.elementType {
        case .int8: stored = .int8(try CPUFallback.quantize(try Tensor(shape: shape, scalars: inputs), scale: q.scale, zeroPoint: q.zeroPoint).scalars)
        case .float16: stored = .float16(inputs.map { FP16.encode($0 / q.scale) })
        case .fp8e4m3: stored = .fp8e4m3(inputs.map { FP8.quantize($0, scale: q.scale, as: .e4m3fn, overflow: .saturate) })
        case .fp8e5m2: stored = .fp8e5m2(inputs.map { FP8.quantize($0, scale: q.scale, as: .e5m2, overflow: .saturate) })
        case .float32: stored = .float32(inputs)
        case .int32:
            throw .invalidParameter(name: "self-test input '\(spec.name)'", expected: "int8, float16, fp8 or float32", found: spec.elementType.rawValue)
        }
        let input = DLASelfTestTensor(shape: shape, values: stored)
        let outputs = try run(model, profile: profile, input: input)
        return DLASelfTest(name: name, inputs: [input], expectedOutputs: outputs)
    }

    /// Runs every vector of `tests`; returns one line per mismatch (empty: all passed). A vector
    /// whose batch would pass `limits` is refused like any run.
    public static func verify(_ model: CompiledModel, profile: HardwareProfile, tests: [DLASelfTest],
                              limits: DLAResourceLimits = DLAResourceLimits()) throws(EngineError) -> [String] {
        var failures: [String] = []
        for test in tests {
            guard test.inputs.count == 1 else {
                failures.append("\(test.name): \(test.inputs.count) inputs, the model takes 1")
                continue
            }
            let outputs = try run(model, profile: profile, input: test.inputs[0], limits: limits)
            guard outputs.count == test.expectedOutputs.count else {
                failures.append("\(test.name): \(outputs.count) outputs, expected \(test.expectedOutputs.count)")
                continue
            }
            for (index, (found, expected)) in zip(outputs, test.expectedOutputs).enumerated() {
                guard found.shape == expected.shape, found.values.dataType == expected.values.dataType else {
                    failures.append("\(test.name): output \(index) is \(found.values.dataType) \(found.shape), expected \(expected.values.dataType) \(expected.shape)")
                    continue
                }
                let differing = (0..<found.values.count).filter { found.values.code(at: $0) != expected.values.code(at: $0) }
                if let first = differing.first, test.tolerance == 0 || !withinTolerance(found.values, expected.values, test.tolerance) {
                    failures.append("\(test.name): output \(index) differs in \(differing.count) of \(found.values.count) elements (first at \(first))")
                }
            }
        }
        return failures
    }

    static func withinTolerance(_ a: DLATensorValues, _ b: DLATensorValues, _ tolerance: Float) -> Bool {
        func values(_ v: DLATensorValues) -> [Float] {
            switch v {
            case .int8(let x): x.map(Float.init)
            case .uint8(let x): x.map(Float.init)
            case .int32(let x): x.map(Float.init)
            case .float32(let x): x
            case .float16(let x): x.map(FP16.decode)
            case .fp8e4m3(let x): x.map { FP8.decode($0, .e4m3fn) }
            case .fp8e5m2(let x): x.map { FP8.decode($0, .e5m2) }
            }
        }
        return zip(values(a), values(b)).allSatisfy { abs($0 - $1) <= tolerance }
    }

    /// The emulator's outputs for stored input codes, in the output tensors' own types.
    static func run(_ model: CompiledModel, profile: HardwareProfile, input: DLASelfTestTensor,
                    limits: DLAResourceLimits = DLAResourceLimits()) throws(EngineError) -> [DLASelfTestTensor] {
        let spec = model.tensors[model.inputs[0]]
        let q = spec.quantization ?? ActivationQuantization(scale: 1, zeroPoint: 0)
        let value: EngineValue
        switch input.values {
        case .int8(let codes): value = .int8(try Tensor(shape: input.shape, scalars: codes))
        // Decoded codes times the scale: the input converter rounds them back to the same codes.
        case .float16(let bits): value = .float32(try Tensor(shape: input.shape, scalars: bits.map { FP16.decode($0) * q.scale }))
        case .fp8e4m3(let codes): value = .float32(try Tensor(shape: input.shape, scalars: codes.map { FP8.dequantize($0, scale: q.scale, .e4m3fn) }))
        case .fp8e5m2(let codes): value = .float32(try Tensor(shape: input.shape, scalars: codes.map { FP8.dequantize($0, scale: q.scale, .e5m2) }))
        case .float32(let values) where spec.elementType == .float32: value = .float32(try Tensor(shape: input.shape, scalars: values))
        default:
            throw .invalidParameter(name: "self-test input", expected: "int8, float16, fp8 codes or float32", found: "\(input.values.dataType)")
        }
        let result = try Executor(model: model, profile: profile, limits: limits).run([value])
        return try zip(result.outputs, model.outputs).map { output, index throws(EngineError) in
            let outputSpec = model.tensors[index]
            switch (output, outputSpec.elementType) {
            case (.int8(let t), _): return DLASelfTestTensor(shape: t.shape, values: .int8(t.scalars))
            case (.int32(let t), _): return DLASelfTestTensor(shape: t.shape, values: .int32(t.scalars))
            case (.float32(let t), .fp8e4m3): return DLASelfTestTensor(shape: t.shape, values: .fp8e4m3(t.scalars.map { FP8.encode($0, as: .e4m3fn, overflow: .saturate) }))
            case (.float32(let t), .fp8e5m2): return DLASelfTestTensor(shape: t.shape, values: .fp8e5m2(t.scalars.map { FP8.encode($0, as: .e5m2, overflow: .saturate) }))
            case (.float32(let t), .float16): return DLASelfTestTensor(shape: t.shape, values: .float16(t.scalars.map(FP16.encode)))
            case (.float32(let t), _): return DLASelfTestTensor(shape: t.shape, values: .float32(t.scalars))
            }
        }
    }
}
