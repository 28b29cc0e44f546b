@testable import DLACompiler
import Testing

/// The interpreter's kernels: the im2col convolution against its direct twin (bit for bit), and
/// operators the fixtures do not reach against hand-computed values.
@Suite struct InterpreterKernelTests {
    /// A fixed pseudo-random sequence in [-1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000 - 1000) / 1000 + Float(state >> 60) * 1e-4
        }
    }

    @Test(arguments: [
        // channels, filters, group, size, kernel, strides, dilations, pads
        (3, 4, 1, 7, 3, 1, 1, [0, 0, 0, 0]),
        (4, 6, 2, 9, 3, 2, 1, [1, 0, 2, 1]),
        (4, 4, 4, 8, 3, 1, 2, [2, 2, 2, 2]),
        (2, 3, 1, 5, 5, 1, 1, [2, 2, 2, 2]),
        (6, 2, 2, 6, 1, 2, 1, [0, 0, 0, 0]),
    ])
    func im2colConvolutionEqualsDirectLoop(_ channels: Int, _ filters: Int, _ group: Int, _ size: Int, _ kernel: Int,
                                           _ stride: Int, _ dilation: Int, _ pads: [Int]) throws {
        let node = GraphNode(name: "c", opType: "Conv", inputs: [], outputs: [],
                             attributes: ["strides": .ints([Int64(stride), Int64(stride)]), "dilations": .ints([Int64(dilation), Int64(dilation)]),
                                          "pads": .ints(pads.map(Int64.init))])
        let geometry = try WindowGeometry.resolve(node, spatial: [size, size + 1], kernel: [kernel, kernel])
        let shape = InterpreterConvolution.Shape(batch: 2, channels: channels, filters: filters, group: group, geometry: geometry)
        let x = Self.values(2 * channels * size * (size + 1), seed: 1)
        let weights = Self.values(filters * (channels / group) * kernel * kernel, seed: 2)
        let bias = Self.values(filters, seed: 3)
        for bias in [bias, []] {
            let fast = InterpreterConvolution.convolve(x, weights: weights, bias: bias, shape: shape)
            let direct = InterpreterConvolution.direct(x, weights: weights, bias: bias, shape: shape)
            #expect(fast.count == shape.outputCount)
            #expect(fast.map(\.bitPattern) == direct.map(\.bitPattern))
        }
        // The integer path (QLinearConv) on small integers, where the Float loop is exact.
        let integerX = x.map { ($0 * 8).rounded() }, integerWeights = weights.map { ($0 * 4).rounded() }, integerBias = bias.map { ($0 * 100).rounded() }
        let integer = InterpreterConvolution.convolve(integerX, weights: integerWeights.map { Int32($0) }, bias: integerBias.map { Int32($0) }, shape: shape)
        let exact = InterpreterConvolution.direct(integerX, weights: integerWeights, bias: integerBias, shape: shape)
        #expect(integer == exact.map { Int32($0) })
    }

    static func run(_ graph: Graph, _ inputs: [String: FloatBatch]) throws -> [Float] {
        try #require(try FloatInterpreter(graph: graph).run(inputs)["y"]).values
    }

    @Test func averagePoolPaddingAndCeilMode() throws {
        let x = FloatBatch(shape: [1, 1, 3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let ceil = SmallGraph.make(input: [1, 1, 3, 3], [SmallGraph.node("AveragePool", ["x"], ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "ceil_mode": .int(1)])])
        #expect(try Self.run(ceil, ["x": x]) == [3, 4.5, 7.5, 9])
        for (include, corner) in [(0, Float(12) / 4), (1, Float(12) / 9)] {
            let padded = SmallGraph.make(input: [1, 1, 3, 3], [SmallGraph.node("AveragePool", ["x"], [
                "kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "count_include_pad": .int(Int64(include))])])
            let result = try Self.run(padded, ["x": x])
            #expect(result.count == 9)
            #expect(result.first == corner && result[4] == 5)
        }
        let maximum = SmallGraph.make(input: [1, 1, 3, 3], [SmallGraph.node("MaxPool", ["x"], ["kernel_shape": .ints([2, 2]), "pads": .ints([1, 1, 0, 0]), "strides": .ints([2, 2])])])
        #expect(try Self.run(maximum, ["x": x.negated]) == [-1, -2, -4, -5])
    }

    @Test func globalMaxPoolAndBroadcastArithmetic() throws {
        let x = FloatBatch(shape: [1, 2, 2, 2], values: [1, -2, 3, 0, -5, -6, -7, -8])
        #expect(try Self.run(SmallGraph.make(input: [1, 2, 2, 2], [SmallGraph.node("GlobalMaxPool", ["x"])]), ["x": x]) == [3, -5])
        let row = FloatBatch(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let c = ["c": ConstantTensor(floats: [1, 2, 4], shape: [3])]
        #expect(try Self.run(SmallGraph.make(input: [2, 3], [SmallGraph.node("Sub", ["x", "c"])], constants: c), ["x": row]) == [0, 0, -1, 3, 3, 2])
        #expect(try Self.run(SmallGraph.make(input: [2, 3], [SmallGraph.node("Div", ["c", "x"])], constants: c), ["x": row]) == [1, 1, 4.0 / 3, 0.25, 0.4, 4.0 / 6])
        let column = ["c": ConstantTensor(floats: [10, 20], shape: [2, 1])]
        #expect(try Self.run(SmallGraph.make(input: [2, 3], [SmallGraph.node("Add", ["x", "c"])], constants: column), ["x": row]) == [11, 12, 13, 24, 25, 26])
        let low = ["low": ConstantTensor(floats: [2.5], shape: [])]
        #expect(try Self.run(SmallGraph.make(input: [2, 3], [SmallGraph.node("Clip", ["x", "low"])], constants: low), ["x": row]) == [2.5, 2.5, 3, 4, 5, 6])
    }

    @Test func softmaxTransposeAndMatMul() throws {
        let x = FloatBatch(shape: [2, 3], values: [0, 0, 0, 1, 2, 3])
        let softmax = try Self.run(SmallGraph.make(input: [2, 3], [SmallGraph.node("Softmax", ["x"], ["axis": .int(0)])]), ["x": x])
        let e1: Float = 1 / (1 + 2.7182817)
        #expect(abs(softmax[0] - e1) < 1e-6 && abs(softmax[0] + softmax[3] - 1) < 1e-6)
        #expect(try Self.run(SmallGraph.make(input: [2, 3], [SmallGraph.node("Transpose", ["x"])]), ["x": x]) == [0, 1, 0, 2, 0, 3])
        let batched = FloatBatch(shape: [2, 2, 3], values: [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1])
        let w = ["w": ConstantTensor(floats: [1, 2, 3, 4, 5, 6], shape: [3, 2])]
        #expect(try Self.run(SmallGraph.make(input: [2, 2, 3], [SmallGraph.node("MatMul", ["x", "w"])], constants: w), ["x": batched]) == [1, 2, 3, 4, 5, 6, 9, 12])
        let gemm = SmallGraph.node("Gemm", ["x", "w", "c"], ["transA": .int(1), "alpha": .float(2), "beta": .float(0.5)])
        let constants = ["w": ConstantTensor(floats: [1, 0, 0, 1], shape: [2, 2]), "c": ConstantTensor(floats: [4], shape: [])]
        let fixed = SmallGraph.make(input: [2, 3], [gemm], constants: constants, symbolicBatch: false)
        #expect(try Self.run(fixed, ["x": x]) == [2, 4, 2, 6, 2, 8])
    }

    /// A model exported with a fixed batch of 1 (here with a Reshape to `[1, 2, 2]`) runs a
    /// larger batch sample by sample.
    @Test func fixedBatchOfOneRunsSampleBySample() throws {
        let reshape = SmallGraph.node("Reshape", ["x", "s"])
        let graph = SmallGraph.make(input: [1, 4], [reshape], constants: ["s": SmallGraph.int64([1, 2, 2])], symbolicBatch: false)
        var observed: [[Int]] = []
        let outputs = try FloatInterpreter(graph: graph).run(["x": FloatBatch(shape: [3, 4], values: (0..<12).map(Float.init))]) { _, value in
            observed.append(value.shape)
        }
        #expect(outputs["y"] == FloatBatch(shape: [3, 2, 2], values: (0..<12).map(Float.init)))
        #expect(observed == Array(repeating: [1, 2, 2], count: 3))
    }

    /// com.microsoft.QGemm without y_scale returns floats: `alpha · a_scale · b_scale[n] · (acc + C)`.
    @Test func quantizedGemmWithFloatOutput() throws {
        let graph = Graph(
            name: "qgemm", opset: 17,
            inputs: [GraphValue(name: "x", elementType: .uint8, shape: [.symbolic("N"), .fixed(2)])],
            outputs: [GraphValue(name: "y", elementType: .float32, shape: [])],
            nodes: [GraphNode(name: "q", opType: "QGemm", domain: "com.microsoft", inputs: ["x", "as", "az", "b", "bs", "bz", "c"],
                              outputs: ["y"], attributes: ["alpha": .float(2)])],
            constants: [
                "as": ConstantTensor(floats: [0.5], shape: []),
                "az": ConstantTensor(elementType: .uint8, shape: [], storage: .bytes([1])),
                "b": ConstantTensor(elementType: .int8, shape: [2, 2], storage: .bytes([1, 2, 3, UInt8(bitPattern: -4)])),
                "bs": ConstantTensor(floats: [0.25, 0.5], shape: [2]),
                "bz": ConstantTensor(elementType: .int8, shape: [2], storage: .bytes([0, 1])),
                "c": ConstantTensor(elementType: .int32, shape: [2], storage: .integers([10, -10])),
            ])
        // Column 0: (3-1)·1 + (5-1)·3 + 10 = 24; column 1: 2·(2-1) + 4·(-4-1) - 10 = -28.
        #expect(try Self.run(graph, ["x": FloatBatch(shape: [1, 2], values: [3, 5])]) == [24 * 2 * 0.5 * 0.25, -28 * 2 * 0.5 * 0.5])
    }
}

extension FloatBatch {
    var negated: FloatBatch { FloatBatch(shape: shape, values: values.map { -$0 }) }
}
