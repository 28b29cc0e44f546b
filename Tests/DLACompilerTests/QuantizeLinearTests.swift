import DLACompiler
import DLANumerics
import Testing

/// QuantizeLinear / DequantizeLinear in the interpreter against the FP8 round-trip vectors of
/// `onnx.reference` (Tests/Fixtures/fp8) and against hand-worked INT8 cases.
@Suite struct QuantizeLinearTests {
    /// `QuantizeLinear(x, scales, 0, axis 0) -> DequantizeLinear` on a `[rows, columns]` input.
    static func roundTripGraph(_ type: ElementType, saturate: Int64, scales: [Float], columns: Int) -> Graph {
        let rows = scales.count
        let zeroStorage: ConstantTensor.Storage = type == .int8 || type == .uint8 || type == .fp8e4m3fn || type == .fp8e5m2
            ? .bytes(Array(repeating: 0, count: rows)) : .integers(Array(repeating: 0, count: rows))
        return Graph(
            name: "roundtrip", opset: 21,
            inputs: [GraphValue(name: "x", elementType: .float32, shape: [.fixed(rows), .fixed(columns)])],
            outputs: [GraphValue(name: "q", elementType: type, shape: [.fixed(rows), .fixed(columns)]),
                      GraphValue(name: "dq", elementType: .float32, shape: [.fixed(rows), .fixed(columns)])],
            nodes: [
                GraphNode(name: "quantize", opType: "QuantizeLinear", inputs: ["x", "scale", "zero"], outputs: ["q"],
                          attributes: ["axis": .int(0), "saturate": .int(saturate)]),
                GraphNode(name: "dequantize", opType: "DequantizeLinear", inputs: ["q", "scale", "zero"], outputs: ["dq"],
                          attributes: ["axis": .int(0)]),
            ],
            constants: ["scale": ConstantTensor(floats: scales, shape: [rows]),
                        "zero": ConstantTensor(elementType: type, shape: [rows], storage: zeroStorage)])
    }

    @Test(arguments: [("e4m3fn", 0), ("e4m3fn", 1), ("e5m2", 0), ("e5m2", 1)])
    func fp8RoundTripMatchesReference(_ formatName: String, _ saturate: Int) throws {
        let format: FP8Format = formatName == "e4m3fn" ? .e4m3fn : .e5m2
        let inputs = try FixtureFiles.batch("fp8/roundtrip.inputs.npy")
        let scales = try FixtureFiles.array("fp8/roundtrip.scales.npy").asFloat32()
        let stem = "fp8/roundtrip.\(formatName)-saturate\(saturate)"
        let codes = try FixtureFiles.array("\(stem).codes.npy").data
        let dequantized = try FixtureFiles.array("\(stem).dequantized.npy").asFloat32()
        let graph = Self.roundTripGraph(format == .e4m3fn ? .fp8e4m3fn : .fp8e5m2, saturate: Int64(saturate), scales: scales, columns: inputs.shape[1])
        let outputs = try FloatInterpreter(graph: graph).run(["x": inputs])
        let q = try #require(outputs["q"]), dq = try #require(outputs["dq"])
        #expect(q.values.count == codes.count && dq.values.count == dequantized.count)
        // The interpreter carries FP8 tensors as their exact values; encoding a value that is
        // already FP8 is exact (infinity only exists in E5M2, where non-saturating keeps it).
        let foundCodes = q.values.map { FP8.encode($0, as: format, overflow: .nonSaturating) }
        let codeMismatches = zip(foundCodes, codes).filter { $0 != $1 }.count
        let valueMismatches = zip(dq.values, dequantized).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(codeMismatches == 0, "\(stem): \(codeMismatches) of \(codes.count) codes differ")
        #expect(valueMismatches == 0, "\(stem): \(valueMismatches) of \(dequantized.count) dequantized values differ in bits")
    }

    /// INT8 / UINT8: round half to even, then the zero point, then saturation.
    @Test func integerQuantizationRoundsHalfToEvenAndSaturates() throws {
        let x: [Float] = [0.25, 0.75, 1.25, -0.25, -0.75, 1000, -1000, 0.26]
        let graph = Self.roundTripGraph(.int8, saturate: 1, scales: [0.5], columns: x.count)
        var constants = graph.constants
        constants["zero"] = ConstantTensor(elementType: .int8, shape: [1], storage: .bytes([UInt8(bitPattern: -3)]))
        let withZeroPoint = Graph(name: graph.name, opset: graph.opset, inputs: graph.inputs, outputs: graph.outputs, nodes: graph.nodes, constants: constants)
        let outputs = try FloatInterpreter(graph: withZeroPoint).run(["x": FloatBatch(shape: [1, x.count], values: x)])
        // x / 0.5 = 0.5, 1.5, 2.5, -0.5, -1.5, 2000, -2000, 0.52 -> 0, 2, 2, 0, -2, …, 1; plus -3.
        #expect(outputs["q"]?.values == [-3, -1, -1, -3, -5, 127, -128, -2])
        #expect(outputs["dq"]?.values == [0, 1, 1, 0, -1, 65, -62.5, 0.5])
    }

    @Test func uint8DefaultsAndTies() throws {
        let x: [Float] = [0.125, 0.375, -1, 300]
        let graph = Self.roundTripGraph(.uint8, saturate: 1, scales: [0.25], columns: x.count)
        let outputs = try FloatInterpreter(graph: graph).run(["x": FloatBatch(shape: [1, x.count], values: x)])
        // 0.5 -> 0, 1.5 -> 2 (ties to even), negative saturates at 0, 1200 at 255.
        #expect(outputs["q"]?.values == [0, 2, 0, 255])
    }

    /// `x → QuantizeLinear(saturate=0) → DequantizeLinear → MatMul (FP8 weights) → y`, x `[N, 4]`.
    static func nonSaturatingInputGraph(_ type: ElementType, format: FP8Format) -> Graph {
        let weights: [Float] = [0.5, -0.25, 1, 0.75, 0.125, -1, -0.5, 2, 0.25, 1.5, -0.75, 0.375]
        let codes = weights.map { FP8.encode($0, as: format, overflow: .saturate) }
        return Graph(
            name: "nonsaturating", opset: 21,
            inputs: [GraphValue(name: "x", elementType: .float32, shape: [.symbolic("N"), .fixed(4)])],
            outputs: [GraphValue(name: "y", elementType: .float32, shape: [.symbolic("N"), .fixed(3)])],
            nodes: [
                GraphNode(name: "quantize", opType: "QuantizeLinear", inputs: ["x", "x_scale", "x_zero"], outputs: ["x_q"],
                          attributes: ["saturate": .int(0)]),
                GraphNode(name: "dequantize", opType: "DequantizeLinear", inputs: ["x_q", "x_scale", "x_zero"], outputs: ["x_dq"]),
                GraphNode(name: "weights", opType: "DequantizeLinear", inputs: ["w_q", "w_scale", "w_zero"], outputs: ["w"]),
                GraphNode(name: "fc", opType: "MatMul", inputs: ["x_dq", "w"], outputs: ["y"]),
            ],
            constants: ["x_scale": ConstantTensor(floats: [0.5], shape: []),
                        "x_zero": ConstantTensor(elementType: type, shape: [], storage: .bytes([0])),
                        "w_q": ConstantTensor(elementType: type, shape: [4, 3], storage: .bytes(codes)),
                        "w_scale": ConstantTensor(floats: [1], shape: []),
                        "w_zero": ConstantTensor(elementType: type, shape: [], storage: .bytes([0]))])
    }

    /// A graph input quantized with `saturate=0`: an out-of-range value becomes NaN (E4M3FN) or
    /// ±∞ (E5M2) on the emulator as in the interpreter (ONNX's reference evaluator), not ±max.
    @Test(arguments: ["e4m3fn", "e5m2"])
    func nonSaturatingInputOverflowsOnTheEmulator(_ formatName: String) throws {
        let format: FP8Format = formatName == "e4m3fn" ? .e4m3fn : .e5m2
        let graph = Self.nonSaturatingInputGraph(format == .e4m3fn ? .fp8e4m3fn : .fp8e5m2, format: format)
        let compilation = try Compiler.compile(graph, options: CompileOptions())
        #expect(compilation.precision == (format == .e4m3fn ? .fp8e4m3 : .fp8e5m2))
        // Row 0 in range; rows 1 and 2 have one value beyond the largest finite (× scale 0.5).
        let input = FloatBatch(shape: [3, 4], values: [1, -2, 0.5, 3,
                                                       0.25, 1e6, 1, -1,
                                                       -1e6, 0.5, 0.5, 0.5])
        let ours = try EmulatorRun.outputs(compilation, input: input)
        let reference = try #require(try FloatInterpreter(graph: graph).run(["x": input])["y"])
        #expect(reference.values[3...].allSatisfy { !$0.isFinite }, "the reference keeps the overflow")
        for (index, (a, b)) in zip(ours.values, reference.values).enumerated() {
            if b.isNaN {
                #expect(a.isNaN, "output \(index): \(a), expected NaN")
            } else if b.isInfinite {
                #expect(a == b, "output \(index): \(a), expected \(b)")
            } else {
                #expect(abs(a - b) <= 1e-3 * max(1, abs(b)), "output \(index): \(a), expected \(b)")
            }
        }
    }
}
