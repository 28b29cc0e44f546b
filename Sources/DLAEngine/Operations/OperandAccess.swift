/// Typed access to an operator's operands, each refusal naming the operation.
extension EngineValue {
    func int8(of operation: UnsafePointer<EngineOperation>) throws(EngineError) -> Tensor<Int8> {
        guard case .int8(let tensor) = self else {
            throw .invalidParameter(name: "operation '\(operation.pointee.name)' input type", expected: "int8", found: typeName)
        }
        return tensor
    }

    func floats(of operation: UnsafePointer<EngineOperation>) throws(EngineError) -> Tensor<Float> {
        guard case .float32(let tensor) = self else {
            throw .invalidParameter(name: "operation '\(operation.pointee.name)' input type", expected: "a floating type", found: typeName)
        }
        return tensor
    }

    /// INT32 accumulators as they are, INT8 codes widened (an SDP reading an activation from memory).
    func int32Values() throws(EngineError) -> Tensor<Int32> {
        switch self {
        case .int32(let t): return t
        case .int8(let t): return try Tensor(shape: t.shape, scalars: t.scalars.map { Int32($0) })
        case .float32: throw .invalidParameter(name: "SDP input type", expected: "int8 or int32", found: "float32")
        }
    }

    /// Real values as a tensor of this value's shape (`realValues(as:)`, what `dlactl run` writes).
    func realValues(_ spec: ActivationSpec) throws(EngineError) -> Tensor<Float> {
        try Tensor(shape: shape, scalars: realValues(as: spec))
    }

    /// Real values stored as `spec` holds them: FP32 as they are, INT8 through the input
    /// converter, FP16/FP8 as `real / scale` rounded to the type.
    static func encoding(_ real: Tensor<Float>, as spec: ActivationSpec) throws(EngineError) -> EngineValue {
        switch spec.elementType {
        case .float32: return .float32(real)
        case .int8:
            let q = spec.quantization ?? ActivationQuantization(scale: 1, zeroPoint: 0)
            return .int8(try CPUFallback.quantize(real, scale: q.scale, zeroPoint: q.zeroPoint))
        case .float16, .fp8e4m3, .fp8e5m2:
            let scale = spec.quantization?.scale ?? 1
            return .float32(try Tensor(shape: real.shape, scalars: real.scalars.map { spec.elementType.round($0 / scale) }))
        case .int32:
            throw .invalidParameter(name: "CPU fallback output '\(spec.name)'", expected: "a float type or int8", found: "int32")
        }
    }
}

extension Tensor {
    /// Runs a per-image unit on each sample of a batch and stacks the results, each checked
    /// against `outputSpec`'s sample shape.
    func mapSamples(_ outputSpec: ActivationSpec, _ body: (Tensor<Scalar>) throws(EngineError) -> Tensor<Scalar>) throws(EngineError) -> Tensor<Scalar> {
        let batch = shape[0]
        let sample = count / max(batch, 1)
        var results: [Scalar] = []
        for row in 0..<batch {
            let image = try Tensor(shape: Array(shape.dropFirst()), scalars: Array(scalars[(row * sample)..<((row + 1) * sample)]))
            let result = try body(image)
            guard result.shape == outputSpec.sampleShape else {
                throw .shapeMismatch(what: "output '\(outputSpec.name)'", expected: outputSpec.sampleShape, found: result.shape)
            }
            results.append(contentsOf: result.scalars)
        }
        return try Tensor(shape: [batch] + outputSpec.sampleShape, scalars: results)
    }
}

/// The nonzero fraction of a convolution's input or weights, which sets the zero-skipping estimate.
enum Density {
    static func of(_ values: [Int8]) -> Double {
        values.isEmpty ? 1 : Double(IntegerArithmetic.nonzeroCount(values)) / Double(values.count)
    }

    static func of(_ values: [Float]) -> Double {
        var nonzero = 0
        for value in values where value != 0 { nonzero += 1 }
        return values.isEmpty ? 1 : Double(nonzero) / Double(values.count)
    }
}
