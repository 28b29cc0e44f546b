import DLANumerics

/// QuantizeLinear / DequantizeLinear (ONNX reference semantics, bit-exact: DLANumerics'
/// `AffineQuantization` and `FP8`) and the quantized operators of ONNX Runtime's QOperator
/// form, which accumulate `(x - x_zero_point)(w - w_zero_point)` exactly in Int32 and
/// requantize with one Float multiplier per output channel, `x_scale · w_scale[c] / y_scale`,
/// rounded half to even and saturated, as ONNX Runtime's kernels do.
extension NodeExecution {
    func quantizeLinear() throws(CompilerError) -> FloatBatch {
        let x = try input(0)
        let scales = try input(1).values
        let zeroPoints = try optionalInput(2)?.values ?? [0]
        let channel = try channelIndex(x.shape, parameterCount: scales.count)
        let type = try outputType(0).elementType
        var values = [Float](repeating: 0, count: x.values.count)
        switch type {
        case .int8, .uint8:
            let range: IntegerQuantType = type == .int8 ? .int8 : .uint8
            for index in values.indices {
                let c = channel(index)
                values[index] = Float(AffineQuantization.quantize(x.values[index], scale: scales[c], zeroPoint: Self.code(zeroPoints[zeroPoints.count == 1 ? 0 : c]), type: range))
            }
        case .fp8e4m3fn, .fp8e5m2:
            guard zeroPoints.allSatisfy({ $0 == 0 }) else {
                throw .unsupportedQuantization(node: node.label, detail: "a float8 zero point must be 0, found \(zeroPoints.first { $0 != 0 } ?? 0)")
            }
            let format: FP8Format = type == .fp8e4m3fn ? .e4m3fn : .e5m2
            let overflow: FP8Overflow = try node.intAttribute("saturate", default: 1) != 0 ? .saturate : .nonSaturating
            for index in values.indices {
                values[index] = FP8.decode(FP8.quantize(x.values[index], scale: scales[channel(index)], as: format, overflow: overflow), format)
            }
        default:
            throw .unsupportedQuantization(node: node.label, detail: "quantizing to \(type) is not supported")
        }
        return FloatBatch(shape: x.shape, values: values)
    }

    func dequantizeLinear() throws(CompilerError) -> FloatBatch {
        let type = try self.type(0)
        let scales = try input(1).values
        let channel = try channelIndex(type.shape, parameterCount: scales.count)
        var values = [Float](repeating: 0, count: type.count)
        switch type.elementType {
        case .fp8e4m3fn, .fp8e5m2:
            let x = try input(0).values
            for index in values.indices { values[index] = x[index] * scales[channel(index)] }
        case .int8, .uint8:
            let codes = try integers(0)
            let zeroPoints = try node.optionalInput(2) == nil ? [0] : integers(2)
            for index in values.indices {
                let c = channel(index)
                values[index] = AffineQuantization.dequantize(Int32(truncatingIfNeeded: codes[index]), scale: scales[c],
                                                              zeroPoint: Int32(truncatingIfNeeded: zeroPoints[zeroPoints.count == 1 ? 0 : c]))
            }
        default:
            // int32 (biases): numpy promotes the difference to float64 before the product.
            let codes = try integers(0)
            let zeroPoints = try node.optionalInput(2) == nil ? [0] : integers(2)
            for index in values.indices {
                let c = channel(index)
                values[index] = Float(Double(codes[index] &- zeroPoints[zeroPoints.count == 1 ? 0 : c]) * Double(scales[c]))
            }
        }
        return FloatBatch(shape: type.shape, values: values)
    }

    /// Maps an element index to the index of its per-axis parameter (0 for per-tensor).
    func channelIndex(_ shape: [Int], parameterCount: Int) throws(CompilerError) -> (Int) -> Int {
        guard parameterCount > 1 else { return { _ in 0 } }
        let axis = try ShapeInference.normalizedAxis(try node.intAttribute("axis", default: 1), rank: shape.count, node: node)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let channels = shape[axis]
        return { ($0 / inner) % channels }
    }

    /// A per-tensor scalar input (scale or zero point); `fallback` when the input is omitted.
    func scalar(_ index: Int, default fallback: Float? = nil) throws(CompilerError) -> Float {
        if node.optionalInput(index) == nil, let fallback { return fallback }
        let value = try input(index)
        guard value.values.count == 1 else {
            throw .unsupportedQuantization(node: node.label, detail: "input \(index + 1) '\(node.inputs[index])' must be one value, found shape \(value.shape)")
        }
        return value.values[0]
    }

    /// One value per output channel from a per-tensor or per-channel parameter.
    func perChannel(_ index: Int, channels: Int, default fallback: Float? = nil) throws(CompilerError) -> [Float] {
        if node.optionalInput(index) == nil, let fallback { return Array(repeating: fallback, count: channels) }
        let values = try input(index).values
        return values.count == 1 ? Array(repeating: values[0], count: channels) : values
    }

    func codeRange(_ index: Int) throws(CompilerError) -> ClosedRange<Int32> {
        switch try outputType(index).elementType {
        case .int8: IntegerQuantType.int8.range
        case .uint8: IntegerQuantType.uint8.range
        case let other: throw .unsupportedQuantization(node: node.label, detail: "output type \(other) (int8 or uint8 expected)")
        }
    }

    func quantizedConvolution() throws(CompilerError) -> FloatBatch {
        let x = try input(0), weightType = try type(3)
        let shape = try convolutionShape(inputShape: x.shape, weightShape: weightType.shape)
        let xScale = try scalar(1), xZero = try scalar(2)
        let weightCodes = try integers(3)
        let weightZeros = try perChannel(5, channels: shape.filters)
        let perFilter = shape.patch
        var weights = [Int32](repeating: 0, count: weightCodes.count)
        for index in weights.indices {
            weights[index] = Int32(truncatingIfNeeded: weightCodes[index]) &- Self.code(weightZeros[index / perFilter])
        }
        let bias = node.optionalInput(8) == nil ? [] : try integers(8).map { Int32(truncatingIfNeeded: $0) }
        let accumulators = InterpreterConvolution.convolve(x.values.map { Float(Self.code($0 - xZero)) }, weights: weights, bias: bias, shape: shape)
        let weightScales = try perChannel(4, channels: shape.filters)
        let yScale = try scalar(6), yZero = try scalar(7, default: 0)
        let multipliers = weightScales.map { xScale * $0 / yScale }
        let range = try codeRange(0)
        var values = [Float](repeating: 0, count: accumulators.count)
        for index in values.indices {
            let filter = (index / shape.outputPlane) % shape.filters
            values[index] = Self.requantize(accumulators[index], multiplier: multipliers[filter], zeroPoint: yZero, range: range)
        }
        return FloatBatch(shape: try outputShape(0), values: values)
    }

    func quantizedMatMul() throws(CompilerError) -> FloatBatch {
        let a = try input(0), bType = try type(3)
        let (k, n) = (bType.shape[0], bType.shape[1])
        let rows = k == 0 ? 0 : a.values.count / k
        let aZero = try scalar(2)
        let bZeros = try perChannel(5, channels: n)
        let bCodes = try integers(3)
        var b = [Int32](repeating: 0, count: bCodes.count)
        for index in b.indices { b[index] = Int32(truncatingIfNeeded: bCodes[index]) &- Self.code(bZeros[index % n]) }
        let accumulators = Self.product(a.values.map { Self.code($0 - aZero) }, b, m: rows, n: n, k: k, bTransposed: false)
        let aScale = try scalar(1), yScale = try scalar(6), yZero = try scalar(7, default: 0)
        let multipliers = try perChannel(4, channels: n).map { aScale * $0 / yScale }
        let range = try codeRange(0)
        return FloatBatch(shape: try outputShape(0), values: accumulators.indices.map { index in
            Self.requantize(accumulators[index], multiplier: multipliers[index % n], zeroPoint: yZero, range: range)
        })
    }

    /// com.microsoft.QGemm: `alpha · a_scale · b_scale · ((A - a_zp)(B - b_zp) + C)`, requantized
    /// with `y_scale` / `y_zero_point`, or returned as Float when they are absent.
    func quantizedGemm() throws(CompilerError) -> FloatBatch {
        var a = try input(0)
        if try node.intAttribute("transA", default: 0) != 0 { a = InterpreterLayout.transpose(a, permutation: [1, 0]) }
        let transB = try node.intAttribute("transB", default: 0) != 0
        let shape = try outputShape(0)
        let (m, n, k) = (shape[0], shape[1], a.shape[1])
        let aZero = try scalar(2)
        let bZeros = try perChannel(5, channels: n, default: 0)
        let bCodes = try integers(3)
        var b = [Int32](repeating: 0, count: bCodes.count)
        for index in b.indices {
            let column = transB ? index / max(k, 1) : index % n
            b[index] = Int32(truncatingIfNeeded: bCodes[index]) &- Self.code(bZeros[column])
        }
        var accumulators = Self.product(a.values.map { Self.code($0 - aZero) }, b, m: m, n: n, k: k, bTransposed: transB)
        if node.optionalInput(6) != nil {
            let bias = try integers(6), biasShape = try type(6).shape
            let strides = InterpreterElementwise.broadcastStrides(biasShape, to: shape)
            for row in 0..<m {
                for column in 0..<n {
                    let value = Int32(truncatingIfNeeded: bias[row * strides[0] + column * strides[1]])
                    accumulators[row * n + column] = accumulators[row * n + column] &+ value
                }
            }
        }
        let alpha = try node.floatAttribute("alpha", default: 1)
        let aScale = try scalar(1)
        let bScales = try perChannel(4, channels: n)
        guard node.optionalInput(7) != nil else {
            let scales = bScales.map { alpha * aScale * $0 }
            return FloatBatch(shape: shape, values: accumulators.indices.map { Float(accumulators[$0]) * scales[$0 % n] })
        }
        let yScale = try scalar(7), yZero = try scalar(8, default: 0)
        let multipliers = bScales.map { alpha * aScale * $0 / yScale }
        let range = try codeRange(0)
        return FloatBatch(shape: shape, values: accumulators.indices.map { index in
            Self.requantize(accumulators[index], multiplier: multipliers[index % n], zeroPoint: yZero, range: range)
        })
    }

    /// com.microsoft.QLinearAdd: `round((a - a_zp)·a_scale/c_scale + (b - b_zp)·b_scale/c_scale) + c_zp`.
    func quantizedAdd() throws(CompilerError) -> FloatBatch {
        let a = try input(0), b = try input(3)
        let aZero = try scalar(2, default: 0), bZero = try scalar(5, default: 0)
        let cScale = try scalar(6), cZero = try scalar(7, default: 0)
        let aRatio = try scalar(1) / cScale, bRatio = try scalar(4) / cScale
        let range = try codeRange(0)
        return InterpreterElementwise.broadcast(a, b, shape: try outputShape(0)) { x, y in
            Self.saturate((x - aZero) * aRatio + (y - bZero) * bRatio, zeroPoint: cZero, range: range)
        }
    }

    /// com.microsoft.QLinearGlobalAveragePool: the exact sum of `x - x_zp` per channel, scaled by
    /// `x_scale / (y_scale · count)`.
    func quantizedGlobalAveragePool() throws(CompilerError) -> FloatBatch {
        var x = try input(0)
        let rank = x.shape.count
        if try node.intAttribute("channels_last", default: 0) != 0 {
            x = InterpreterLayout.transpose(x, permutation: [0, rank - 1] + Array(1..<(rank - 1)))
        }
        let planes = x.shape[0] * x.shape[1]
        let size = x.shape[2...].reduce(1, *)
        let xZero = try scalar(2)
        let multiplier = try scalar(1) / (try scalar(3) * Float(size))
        let yZero = try scalar(4, default: 0)
        let range = try codeRange(0)
        let values = (0..<planes).map { plane -> Float in
            var sum: Int32 = 0
            for index in (plane * size)..<((plane + 1) * size) { sum = sum &+ Self.code(x.values[index] - xZero) }
            return Self.requantize(sum, multiplier: multiplier, zeroPoint: yZero, range: range)
        }
        return FloatBatch(shape: try outputShape(0), values: values)
    }

    static func product(_ a: [Int32], _ b: [Int32], m: Int, n: Int, k: Int, bTransposed: Bool) -> [Int32] {
        var c = [Int32](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    InterpreterGEMM.multiply(a, b, into: c, m: m, n: n, k: k, bTransposed: bTransposed)
                }
            }
        }
        return c
    }

    /// A carried code (or code difference) as Int32; out-of-range values of a malformed model
    /// clamp instead of trapping.
    static func code(_ value: Float) -> Int32 {
        value.isNaN ? 0 : Int32(max(min(value, 0x1p31 - 128), -0x1p31))
    }

    static func requantize(_ accumulator: Int32, multiplier: Float, zeroPoint: Float, range: ClosedRange<Int32>) -> Float {
        saturate(Float(accumulator) * multiplier, zeroPoint: zeroPoint, range: range)
    }

    /// `saturate(roundHalfEven(value) + zeroPoint)`; NaN becomes the zero point.
    static func saturate(_ value: Float, zeroPoint: Float, range: ClosedRange<Int32>) -> Float {
        let rounded = value.rounded(.toNearestOrEven)
        let steps = rounded.isNaN ? 0 : Int64(min(max(rounded, -0x1p40), 0x1p40))
        return Float(FixedPoint.saturate(steps + Int64(zeroPoint), to: range))
    }
}
