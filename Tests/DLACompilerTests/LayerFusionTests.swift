@testable import DLACompiler
@testable import DLAEngine
import DLANumerics
import Testing

/// Every form exporters and ONNX Runtime give a linear or convolution layer with bias and
/// activation compiles to one convolution-core operation and one SDP operation, and its outputs
/// equal, bit for bit, the unfused reference: the engine running every SDP stage by stage, and for
/// the forms that round twice (a quantized product, then the bias Add) the same model compiled
/// with the rounding and the Add as two SDPs.
@Suite struct LayerFusionTests {
    static let features = 24, outputs = 6, channels = 4, inputChannels = 3, side = 6

    /// Builds graphs node by node, ONNX Runtime's QDQ and QOperator idioms included.
    struct Builder {
        var nodes: [GraphNode] = []
        var constants: [String: ConstantTensor] = [:]
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15

        mutating func next() -> Float {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(random >> 40) % 2001 - 1000) / 1000
        }

        mutating func floats(_ name: String, _ shape: [Int], scale: Float) -> String {
            constants[name] = ConstantTensor(floats: (0..<shape.reduce(1, *)).map { _ in next() * scale }, shape: shape)
            return name
        }

        mutating func scalar(_ name: String, _ value: Float) -> String {
            constants[name] = ConstantTensor(floats: [value], shape: [])
            return name
        }

        mutating func codes(_ name: String, _ type: ElementType, _ values: [Int], shape: [Int]) -> String {
            let storage: ConstantTensor.Storage = type == .int32 ? .integers(values.map(Int64.init))
                : .bytes(values.map { type == .int8 ? UInt8(bitPattern: Int8($0)) : UInt8($0) })
            constants[name] = ConstantTensor(elementType: type, shape: shape, storage: storage)
            return name
        }

        /// INT8 codes in -127...127, `count` of them.
        mutating func randomCodes(_ count: Int) -> [Int] { (0..<count).map { _ in Int(next() * 127) } }

        @discardableResult
        mutating func node(_ op: String, _ inputs: [String], _ output: String, domain: String = "",
                           _ attributes: [String: AttributeValue] = [:]) -> String {
            nodes.append(GraphNode(name: output, opType: op, domain: domain, inputs: inputs, outputs: [output], attributes: attributes))
            return output
        }

        /// `x` quantized to INT8 codes (scale, zero point) and read back as real values.
        mutating func qdq(_ x: String, scale: Float, zero: Int) -> String {
            let s = scalar(x + "_scale", scale), z = codes(x + "_zero", .int8, [zero], shape: [])
            node("QuantizeLinear", [x, s, z], x + "_q")
            return node("DequantizeLinear", [x + "_q", s, z], x + "_dq")
        }

        /// A constant stored as INT8 codes with scales along `axis`, dequantized in the graph.
        mutating func dequantizedCodes(_ name: String, shape: [Int], scales: [Float], axis: Int) -> String {
            let count = shape.reduce(1, *)
            codes(name + "_codes", .int8, randomCodes(count), shape: shape)
            constants[name + "_scales"] = ConstantTensor(floats: scales, shape: scales.count == 1 ? [] : [scales.count])
            codes(name + "_zeros", .int8, [Int](repeating: 0, count: scales.count), shape: scales.count == 1 ? [] : [scales.count])
            return node("DequantizeLinear", [name + "_codes", name + "_scales", name + "_zeros"], name,
                        scales.count == 1 ? [:] : ["axis": .int(Int64(axis))])
        }

        func graph(_ name: String, input: [Int], output: [Int], result: String) -> Graph {
            Graph(name: name, opset: 13,
                  inputs: [GraphValue(name: "x", elementType: .float32, shape: [.symbolic("N")] + input.map { .fixed($0) })],
                  outputs: [GraphValue(name: result, elementType: .float32, shape: [.symbolic("N")] + output.map { .fixed($0) })],
                  nodes: nodes, constants: constants)
        }
    }

    static func weightScales(_ count: Int) -> [Float] { (0..<count).map { 0.004 + 0.001 * Float($0 % 3) } }

    /// ONNX Runtime's QDQ MatMul + Add (the bias quantized as an activation-like INT8 constant),
    /// optionally followed by a ReLU that keeps the Add's quantization.
    static func qdqMatMulAdd(relu: Bool) -> Graph {
        var b = Builder()
        let x = b.qdq("x", scale: 1.0 / 64, zero: -10)
        let w = b.dequantizedCodes("w", shape: [features, outputs], scales: weightScales(outputs), axis: 1)
        let product = b.qdq(b.node("MatMul", [x, w], "t"), scale: 0.05, zero: 3)
        let bias = b.dequantizedCodes("b", shape: [outputs], scales: [0.01], axis: 0)
        var y = b.qdq(b.node("Add", [product, bias], "y"), scale: 0.04, zero: -20)
        if relu {
            let s = b.constants["y_scale"]!, z = b.constants["y_zero"]!
            b.constants["r_scale"] = s
            b.constants["r_zero"] = z
            b.node("Relu", [y], "r")
            b.node("QuantizeLinear", ["r", "r_scale", "r_zero"], "r_q")
            y = b.node("DequantizeLinear", ["r_q", "r_scale", "r_zero"], "r_dq")
        }
        return b.graph("qdq-matmul-add", input: [features], output: [outputs], result: y)
    }

    /// QDQ Conv without bias + Add of a `[1, C, 1, 1]` constant + Clip (ReLU6) keeping the quantization.
    static func qdqConvAddClip() -> Graph {
        var b = Builder()
        let x = b.qdq("x", scale: 1.0 / 32, zero: 0)
        let w = b.dequantizedCodes("w", shape: [channels, inputChannels, 3, 3], scales: weightScales(channels), axis: 0)
        let conv = b.qdq(b.node("Conv", [x, w], "c", ["pads": .ints([1, 1, 1, 1]), "kernel_shape": .ints([3, 3])]), scale: 0.06, zero: -5)
        let bias = b.dequantizedCodes("b", shape: [1, channels, 1, 1], scales: [0.02], axis: 0)
        let y = b.qdq(b.node("Add", [conv, bias], "y"), scale: 0.03, zero: -100)
        b.constants["r_scale"] = b.constants["y_scale"]!
        b.constants["r_zero"] = b.constants["y_zero"]!
        b.node("Clip", [y, b.scalar("lo", 0), b.scalar("hi", 6)], "r")
        b.node("QuantizeLinear", ["r", "r_scale", "r_zero"], "r_q")
        let out = b.node("DequantizeLinear", ["r_q", "r_scale", "r_zero"], "r_dq")
        return b.graph("qdq-conv-add-clip", input: [inputChannels, side, side], output: [channels, side, side], result: out)
    }

    /// ONNX Runtime's QOperator MatMul + Add: QLinearMatMul, then `com.microsoft` QLinearAdd.
    static func qLinearMatMulAdd() -> Graph {
        var b = Builder()
        let xs = b.scalar("xs", 1.0 / 64), xz = b.codes("xz", .int8, [-10], shape: [])
        b.node("QuantizeLinear", ["x", xs, xz], "xq")
        b.codes("w", .int8, b.randomCodes(features * outputs), shape: [features, outputs])
        b.constants["ws"] = ConstantTensor(floats: weightScales(outputs), shape: [outputs])
        b.codes("wz", .int8, [Int](repeating: 0, count: outputs), shape: [outputs])
        let ts = b.scalar("ts", 0.05), tz = b.codes("tz", .int8, [3], shape: [])
        b.node("QLinearMatMul", ["xq", xs, xz, "w", "ws", "wz", ts, tz], "tq")
        b.codes("bq", .int8, b.randomCodes(outputs), shape: [outputs])
        let bs = b.scalar("bs", 0.01), bz = b.codes("bz", .int8, [0], shape: [])
        let ys = b.scalar("ys", 0.04), yz = b.codes("yz", .int8, [-20], shape: [])
        b.node("QLinearAdd", ["tq", ts, tz, "bq", bs, bz, ys, yz], "yq", domain: "com.microsoft")
        let y = b.node("DequantizeLinear", ["yq", ys, yz], "y")
        return b.graph("qlinear-matmul-add", input: [features], output: [outputs], result: y)
    }

    /// `com.microsoft` QGemm with an INT32 bias (ONNX Runtime's QOperator Gemm).
    static func qGemm() -> Graph {
        var b = Builder()
        let xs = b.scalar("xs", 1.0 / 64), xz = b.codes("xz", .int8, [-10], shape: [])
        b.node("QuantizeLinear", ["x", xs, xz], "xq")
        b.codes("w", .int8, b.randomCodes(features * outputs), shape: [outputs, features])
        b.constants["ws"] = ConstantTensor(floats: weightScales(outputs), shape: [outputs])
        b.codes("wz", .int8, [Int](repeating: 0, count: outputs), shape: [outputs])
        b.codes("bias", .int32, (0..<outputs).map { $0 * 97 - 250 }, shape: [outputs])
        let ys = b.scalar("ys", 0.05), yz = b.codes("yz", .int8, [3], shape: [])
        b.node("QGemm", ["xq", xs, xz, "w", "ws", "wz", "bias", ys, yz], "yq", domain: "com.microsoft", ["transB": .int(1)])
        let y = b.node("DequantizeLinear", ["yq", ys, yz], "y")
        return b.graph("qgemm", input: [features], output: [outputs], result: y)
    }

    /// QLinearConv with an INT32 bias.
    static func qLinearConv() -> Graph {
        var b = Builder()
        let xs = b.scalar("xs", 1.0 / 32), xz = b.codes("xz", .int8, [0], shape: [])
        b.node("QuantizeLinear", ["x", xs, xz], "xq")
        b.codes("w", .int8, b.randomCodes(channels * inputChannels * 9), shape: [channels, inputChannels, 3, 3])
        b.constants["ws"] = ConstantTensor(floats: weightScales(channels), shape: [channels])
        b.codes("wz", .int8, [Int](repeating: 0, count: channels), shape: [channels])
        b.codes("bias", .int32, (0..<channels).map { $0 * 131 - 200 }, shape: [channels])
        let ys = b.scalar("ys", 0.06), yz = b.codes("yz", .int8, [-5], shape: [])
        b.node("QLinearConv", ["xq", xs, xz, "w", "ws", "wz", ys, yz, "bias"], "yq", ["pads": .ints([1, 1, 1, 1]), "kernel_shape": .ints([3, 3])])
        let y = b.node("DequantizeLinear", ["yq", ys, yz], "y")
        return b.graph("qlinear-conv", input: [inputChannels, side, side], output: [channels, side, side], result: y)
    }

    /// Float exporters' forms, compiled to INT8 with calibration: Gemm + Relu, MatMul + Add + Clip,
    /// Conv without bias + Add + Relu.
    static func floatGraph(_ form: String) -> Graph {
        var b = Builder()
        switch form {
        case "gemm-relu":
            b.node("Gemm", ["x", b.floats("w", [outputs, features], scale: 0.3), b.floats("b", [outputs], scale: 0.2)], "g", ["transB": .int(1)])
            b.node("Relu", ["g"], "y")
            return b.graph(form, input: [features], output: [outputs], result: "y")
        case "matmul-add-clip":
            b.node("MatMul", ["x", b.floats("w", [features, outputs], scale: 0.3)], "m")
            b.node("Add", ["m", b.floats("b", [outputs], scale: 0.2)], "a")
            b.node("Clip", ["a", b.scalar("lo", -0.5), b.scalar("hi", 1.5)], "y")
            return b.graph(form, input: [features], output: [outputs], result: "y")
        default:
            b.node("Conv", ["x", b.floats("w", [channels, inputChannels, 3, 3], scale: 0.3)], "c",
                   ["pads": .ints([1, 1, 1, 1]), "kernel_shape": .ints([3, 3])])
            b.node("Add", ["c", b.floats("b", [1, channels, 1, 1], scale: 0.2)], "a")
            b.node("Relu", ["a"], "y")
            return b.graph(form, input: [inputChannels, side, side], output: [channels, side, side], result: "y")
        }
    }

    static func inputs(_ graph: Graph, rows: Int, seed: Int) -> FloatBatch {
        let sample = graph.inputs[0].shape.dropFirst().reduce(1) { product, dimension in
            if case .fixed(let size) = dimension { return product * size }
            return product
        }
        let shape = [rows] + graph.inputs[0].shape.dropFirst().map { dimension -> Int in
            if case .fixed(let size) = dimension { return size }
            return 1
        }
        // Beyond the calibrated and quantized ranges on purpose: the clips and saturations must agree too.
        return FloatBatch(shape: shape, values: (0..<(rows * sample)).map { Float(($0 * 7919 + seed * 104_729) % 1201 - 400) / 300 })
    }

    /// The output codes of `compilation` on `input`: with every SDP fused (the arena's and the
    /// general path's), and with every SDP stage by stage.
    static func runs(_ compilation: Compilation, _ input: FloatBatch) throws -> [[Int8]] {
        let value = EngineValue.float32(try Tensor(shape: input.shape, scalars: input.values))
        var results: [[Int8]] = []
        for (usesArena, fusesSDP) in [(true, true), (false, true), (false, false)] {
            let executor = try Executor(model: compilation.compiled, profile: compilation.profile, threads: 1, strategy: nil,
                                        usesArena: usesArena, fusesSDP: fusesSDP)
            guard case .int8(let codes) = try executor.run([value]).outputs[0] else {
                Issue.record("\(compilation.model.metadata.name): the output is not INT8")
                return []
            }
            results.append(codes.scalars)
        }
        return results
    }

    static func quantizedGraph(_ form: String) -> Graph {
        switch form {
        case "qdq-matmul-add": qdqMatMulAdd(relu: false)
        case "qdq-matmul-add-relu": qdqMatMulAdd(relu: true)
        case "qdq-conv-add-clip": qdqConvAddClip()
        case "qlinear-matmul-add": qLinearMatMulAdd()
        case "qgemm": qGemm()
        default: qLinearConv()
        }
    }

    /// The forms that round twice: one layer fused, identical to the two SDPs they were.
    @Test(arguments: ["qdq-matmul-add", "qdq-matmul-add-relu", "qdq-conv-add-clip", "qlinear-matmul-add"])
    func requantizedBiasFusesIntoTheLayer(_ form: String) throws {
        let graph = Self.quantizedGraph(form)
        let fused = try Compiler.compile(graph, options: CompileOptions())
        #expect(fused.unitCounts == ["convolution": 1, "sdp": 1], "\(form): \(fused.unitCounts)")
        var options = CompileOptions()
        options.fusesRequantizedBias = false
        let unfused = try Compiler.compile(graph, options: options)
        #expect(unfused.unitCounts["sdp"] ?? 0 >= 2, "\(form): \(unfused.unitCounts)")
        let input = Self.inputs(graph, rows: 40, seed: 1)
        let ours = try Self.runs(fused, input), reference = try Self.runs(unfused, input)
        #expect(ours.count == 3 && reference.count == 3)
        for result in ours + reference {
            #expect(result == reference[2], "\(form)")
        }
        // The inputs reach both ends of the output's codes, so the clips were exercised.
        let codes = Set(reference[2])
        #expect(codes.count > 20, "\(form): \(codes.count) distinct outputs")
    }

    /// The forms that were one layer already (bias inside the operator, or a float model's
    /// MatMul + Add), fused against stage by stage.
    @Test(arguments: ["qgemm", "qlinear-conv", "gemm-relu", "matmul-add-clip", "conv-add-relu"])
    func singleRoundingFormsAreOneLayer(_ form: String) throws {
        let quantized = form.hasPrefix("q")
        let graph = quantized ? Self.quantizedGraph(form) : Self.floatGraph(form)
        var options = CompileOptions()
        if !quantized {
            options.precision = .int8
            options.calibration = [Self.inputs(graph, rows: 32, seed: 2)]
        }
        let compilation = try Compiler.compile(graph, options: options)
        #expect(compilation.unitCounts == ["convolution": 1, "sdp": 1], "\(form): \(compilation.unitCounts)")
        let results = try Self.runs(compilation, Self.inputs(graph, rows: 40, seed: 3))
        #expect(results.count == 3)
        for result in results { #expect(result == results[2], "\(form)") }
    }

    /// A quantized product added to itself is an element-wise add of two activations, not a bias.
    @Test func productAddedToItselfStaysAnElementwiseAdd() throws {
        var b = Builder()
        let x = b.qdq("x", scale: 1.0 / 64, zero: -10)
        let w = b.dequantizedCodes("w", shape: [Self.features, Self.outputs], scales: Self.weightScales(Self.outputs), axis: 1)
        let product = b.qdq(b.node("MatMul", [x, w], "t"), scale: 0.05, zero: 3)
        let y = b.qdq(b.node("Add", [product, product], "y"), scale: 0.1, zero: 0)
        let compilation = try Compiler.compile(b.graph("double", input: [Self.features], output: [Self.outputs], result: y), options: CompileOptions())
        #expect(compilation.unitCounts == ["convolution": 1, "sdp": 2])
    }

    /// The QOperator MatMul + Add fixture (LeNet-300-100 as ONNX Runtime quantized it): one fc and
    /// one SDP per layer, and ONNX Runtime's top-1 on the 300 test images.
    @Test func matMulAddFixtureIsOneSDPPerLayerAndAgreesWithONNXRuntime() throws {
        let compilation = try Compiler.compile(try FixtureFiles.model("mlp-matmul-int8-qoperator"), options: CompileOptions())
        #expect(compilation.unitCounts["convolution"] == 3)
        #expect(compilation.unitCounts["sdp"] == 3)
        let images = try FixtureFiles.batch("data/mnist-test-300.images-flat.npy")
        let reference = try FixtureFiles.batch("outputs/mlp-matmul-int8-qoperator.probabilities.npy")
        let ours = try EmulatorRun.outputs(compilation, input: images)
        #expect(EmulatorRun.agreement(FixtureFiles.top1(ours), FixtureFiles.top1(reference)) >= 0.995)
    }
}
