import DLAFormat
import DLANumerics
import Testing
@testable import DLAEngine

/// Findings of a code review of the load path (issue 14): a crafted `.dla` with valid checksums
/// must get a thrown error naming what is wrong, never a trap or a write past a buffer, and a
/// register field out of range is refused rather than clamped into a different model.
struct UntrustedModelTests {
    /// A one-operation model through the real writer and reader: `tensors[0..<inputs]` are the
    /// graph inputs, the last tensor its output.
    static func load(_ operation: DLAOperation, tensors: [DLATensorSpec], inputs: Int = 1,
                     weights: [DLAWeightTensor] = []) throws -> DLALoadedModel {
        let metadata = DLAMetadata(name: "crafted", producer: "DLAEngineTests", createdAt: 0, targetProfile: "nv_full", precision: "int8",
                                   inputs: Array(tensors[0..<inputs]), outputs: [tensors[tensors.count - 1]])
        let graph = DLAGraph(tensors: tensors, inputs: Array(0..<inputs), outputs: [tensors.count - 1], operations: [operation])
        return try DLAFile.read(try DLAFile.write(DLAModel(metadata: metadata, graph: graph, weights: weights), environment: [:]))
    }

    static func int8(_ name: String, _ sample: [Int64], zeroPoint: Int32 = 0) -> DLATensorSpec {
        DLATensorSpec(name: name, shape: [-1] + sample, dataType: .int8, quantization: .perTensor(scale: 0.5, zeroPoint: zeroPoint))
    }

    static func float32(_ name: String, _ sample: [Int64]) -> DLATensorSpec {
        DLATensorSpec(name: name, shape: [-1] + sample, dataType: .float32)
    }

    /// Confirmed: the arena copied a general operation's result into a slot sized from the
    /// declared output shape without comparing lengths (a concatenation of 1024 bytes per row
    /// into a 64-byte slot here). The adapter now refuses such a model (see below); built past
    /// it, the run throws instead of writing past the buffer.
    @Test func arenaWriteRefusesAResultLargerThanItsSlot() throws {
        let tensors = [ActivationSpec(name: "x", sampleShape: [2, 16, 16], elementType: .int8),
                       ActivationSpec(name: "y", sampleShape: [1], elementType: .int8)]
        let operation = EngineOperation(name: "c", unit: .bdma, type: "concat", kind: ConcatenateOperation(axis: 1), inputs: [0, 0], outputs: [1])
        let model = CompiledModel(name: "crafted", targetProfile: "nv_full", tensors: tensors, inputs: [0], outputs: [1], operations: [operation])
        let executor = try Executor(model: model, profile: .nvFull)
        #expect(executor.arena != nil)
        let input = EngineValue.int8(try Tensor(shape: [3, 2, 16, 16], repeating: 1))
        #expect(throws: EngineError.elementCountMismatch(what: "tensor 'y' written to its arena slot", expected: 3, found: 3072)) {
            try executor.run([input])
        }
    }

    /// One case per operation the adapter did not check: a wrong output spec is refused, the
    /// right one compiles and runs to the declared shape.
    struct OutputSpecCase: Sendable, CustomTestStringConvertible {
        var operation: DLAOperation
        var inputs: [DLATensorSpec]
        var wrong: [DLATensorSpec]
        var right: DLATensorSpec
        var testDescription: String { operation.type }
    }

    static let outputSpecCases: [OutputSpecCase] = [
        OutputSpecCase(operation: DLAOperation(name: "contract", unit: .rubik, type: "contract", inputs: [0], outputs: [1],
                                               attributes: [DLAAttribute("stride", .ints([2, 2]))]),
                       inputs: [int8("x", [8, 3, 3])],
                       wrong: [int8("y", [8, 3, 3]), int8("y", [1]), DLATensorSpec(name: "y", shape: [-1, 2, 6, 6], dataType: .int32)],
                       right: int8("y", [2, 6, 6])),
        OutputSpecCase(operation: DLAOperation(name: "concat", unit: .bdma, type: "concat", inputs: [0, 1], outputs: [2],
                                               attributes: [DLAAttribute("axis", .int(0))]),
                       inputs: [int8("a", [2, 4, 4]), int8("b", [3, 4, 4])],
                       wrong: [int8("y", [2, 4, 4]), int8("y", [1]), float32("y", [5, 4, 4])],
                       right: int8("y", [5, 4, 4])),
        OutputSpecCase(operation: DLAOperation(name: "slice", unit: .bdma, type: "slice", inputs: [0], outputs: [1],
                                               attributes: [DLAAttribute("axis", .int(1)), DLAAttribute("start", .int(1)), DLAAttribute("end", .int(3))]),
                       inputs: [int8("x", [2, 4, 4])],
                       wrong: [int8("y", [2, 4, 4]), int8("y", [1]), float32("y", [2, 2, 4])],
                       right: int8("y", [2, 2, 4])),
        OutputSpecCase(operation: DLAOperation(name: "softmax", unit: .cpu, type: "softmax", inputs: [0], outputs: [1]),
                       inputs: [int8("x", [10])],
                       wrong: [float32("y", [20]), float32("y", [1]), DLATensorSpec(name: "y", shape: [-1, 10], dataType: .int32)],
                       right: float32("y", [10])),
        OutputSpecCase(operation: DLAOperation(name: "quantize", unit: .cpu, type: "quantize", inputs: [0], outputs: [1]),
                       inputs: [float32("x", [3, 5])],
                       wrong: [int8("y", [5, 3]), int8("y", [1]), DLATensorSpec(name: "y", shape: [-1, 3, 5], dataType: .int32)],
                       right: int8("y", [3, 5])),
        OutputSpecCase(operation: DLAOperation(name: "dequantize", unit: .cpu, type: "dequantize", inputs: [0], outputs: [1]),
                       inputs: [int8("x", [6])],
                       wrong: [float32("y", [7]), float32("y", [1]), int8("y", [6])],
                       right: float32("y", [6])),
    ]

    @Test(arguments: outputSpecCases)
    func outputSpecsOfDataMovementAndCPUOperationsAreChecked(_ c: OutputSpecCase) throws {
        for wrong in c.wrong {
            let model = try Self.load(c.operation, tensors: c.inputs + [wrong], inputs: c.inputs.count)
            #expect(throws: EngineError.self, "\(wrong.shape) \(wrong.dataType)") { try ModelAdapter.compile(model) }
        }
        let model = try ModelAdapter.compile(try Self.load(c.operation, tensors: c.inputs + [c.right], inputs: c.inputs.count))
        let inputs = try model.inputs.map { id -> EngineValue in
            let shape = [2] + model.tensors[id].sampleShape
            return model.tensors[id].elementType == .float32
                ? .float32(try Tensor(shape: shape, repeating: 0.25)) : .int8(try Tensor(shape: shape, repeating: 3))
        }
        let result = try Executor(model: model, profile: .nvFull).run(inputs)
        #expect(result.outputs[0].shape == [2] + c.right.shape.dropFirst().map { Int($0) })
    }

    @Test func outOfRangeSliceAndConcatAxesAreRefused() throws {
        let x = Self.int8("x", [2, 4, 4])
        for attributes in [[DLAAttribute("axis", .int(3)), DLAAttribute("end", .int(1))],
                           [DLAAttribute("axis", .int(-2)), DLAAttribute("end", .int(1))],
                           [DLAAttribute("start", .int(-1)), DLAAttribute("end", .int(1))],
                           [DLAAttribute("start", .int(0)), DLAAttribute("end", .int(3))]] {
            let slice = DLAOperation(name: "s", unit: .bdma, type: "slice", inputs: [0], outputs: [1], attributes: attributes)
            #expect(throws: EngineError.self) { try ModelAdapter.compile(try Self.load(slice, tensors: [x, Self.int8("y", [1, 4, 4])])) }
        }
        let concat = DLAOperation(name: "c", unit: .bdma, type: "concat", inputs: [0, 0], outputs: [1], attributes: [DLAAttribute("axis", .int(1 << 40))])
        #expect(throws: EngineError.self) { try ModelAdapter.compile(try Self.load(concat, tensors: [x, Self.int8("y", [4, 4, 4])])) }
    }

    /// An integer SDP with an element-wise operand: `x + y` converted to INT8.
    static func sdp(_ attributes: [DLAAttribute]) throws -> DLALoadedModel {
        let operation = DLAOperation(name: "add", unit: .sdp, type: "sdp", inputs: [0, 1], outputs: [2], attributes: attributes)
        return try load(operation, tensors: [int8("x", [2, 2, 2]), int8("z", [2, 2, 2]), int8("y", [2, 2, 2])], inputs: 2)
    }

    /// Confirmed: `Int32(r.int("ew_offset"))` trapped on a value `r.int` accepts (up to 2^40).
    @Test func elementwiseOffsetBeyond32BitsIsRefused() throws {
        #expect(throws: EngineError.invalidParameter(name: "operation 'add' attribute 'ew_offset'", expected: "a 32-bit integer", found: "int(34359738368)")) {
            try ModelAdapter.compile(try Self.sdp([DLAAttribute("ew_offset", .int(1 << 35))]))
        }
    }

    /// Confirmed: `Int16(clamping:)`/`UInt8(clamping:)` turned a scale of 40000 into 32767 and a
    /// shift of −1 into 0, running a model other than the file's. Each register's range is now
    /// enforced; values inside it reach the converter unchanged.
    @Test func converterFieldsOutOfTheirRegistersAreRefused() throws {
        let refused: [(String, Int64)] = [
            ("cvt_scale", 40_000), ("cvt_scale", -32_769), ("cvt_shift", 64), ("cvt_shift", -1), ("cvt_offset", 1 << 33),
            ("ew_scale", 40_000), ("ew_shift", 64), ("ew_shift", -1), ("ew_offset", -(1 << 31) - 1),
        ]
        for (key, value) in refused {
            #expect(throws: EngineError.self, "\(key) = \(value)") { try ModelAdapter.compile(try Self.sdp([DLAAttribute(key, .int(value))])) }
        }
        let accepted = try ModelAdapter.compile(try Self.sdp([
            DLAAttribute("cvt_scale", .int(-32_768)), DLAAttribute("cvt_shift", .int(63)), DLAAttribute("cvt_offset", .int(Int64(Int32.min))),
            DLAAttribute("ew_scale", .int(32_767)), DLAAttribute("ew_shift", .int(0)), DLAAttribute("ew_offset", .int(Int64(Int32.max))),
        ]))
        guard let layer = (accepted.operations[0].kind as? SDPOperation)?.layer else {
            Issue.record("expected an integer SDP")
            return
        }
        #expect(layer.converter == OutputConverter(offset: Int32.min, scale: -32_768, shift: 63))
        #expect(layer.elementwise?.operandConverter == OutputConverter(offset: Int32.max, scale: 32_767, shift: 0))
    }

    @Test func clipBoundsAndPReLUConstantBeyond32BitsAreRefused() throws {
        let clip = try Self.sdp([DLAAttribute("activation", .string("clip")), DLAAttribute("clip", .ints([0, 1 << 33]))])
        #expect(throws: EngineError.self) { try ModelAdapter.compile(clip) }
        let prelu = try Self.sdp([DLAAttribute("activation", .string("prelu")), DLAAttribute("prelu_constant", .int(1 << 32))])
        #expect(throws: EngineError.self) { try ModelAdapter.compile(prelu) }
    }

    /// BS's clip: bounds beyond 32 bits, upside down or not two are refused; in range it is the
    /// stage after BS's multiplier. BN's multipliers must be a weight tensor.
    @Test func secondRoundingStageRegistersAreChecked() throws {
        let refused: [[DLAAttribute]] = [
            [DLAAttribute("bs_clip", .ints([0, 1 << 33]))], [DLAAttribute("bs_clip", .ints([5, -5]))], [DLAAttribute("bs_clip", .ints([1]))],
            [DLAAttribute("bn_scale", .int(3))], [DLAAttribute("bn_bias", .int(3))],
        ]
        for attributes in refused {
            #expect(throws: (any Error).self, "\(attributes)") { try ModelAdapter.compile(try Self.sdp(attributes)) }
        }
        let accepted = try ModelAdapter.compile(try Self.sdp([DLAAttribute("bs_clip", .ints([-100, 155]))]))
        guard let layer = (accepted.operations[0].kind as? SDPOperation)?.layer else {
            Issue.record("expected an integer SDP")
            return
        }
        #expect(layer.before == [.clip(lower: -100, upper: 155)])
    }

    /// Found while grepping the load path: an LRN whose `(k + α/n·Σx²)^−β` is NaN (k < 0, or
    /// n = 0 making α/n·0 = NaN) trapped in `Int16(_:)` while its table was built.
    @Test func lrnWhoseTableIsNotRealIsRefused() throws {
        let x = Self.int8("x", [4, 2, 2]), y = Self.int8("y", [4, 2, 2])
        for attributes in [[DLAAttribute("k", .float(-1))], [DLAAttribute("size", .int(0))], [DLAAttribute("size", .int(-3))]] {
            let lrn = DLAOperation(name: "lrn", unit: .cdp, type: "lrn", inputs: [0], outputs: [1], attributes: attributes)
            #expect(throws: EngineError.self, "\(attributes)") { try ModelAdapter.compile(try Self.load(lrn, tensors: [x, y])) }
        }
        let fine = DLAOperation(name: "lrn", unit: .cdp, type: "lrn", inputs: [0], outputs: [1], attributes: [DLAAttribute("size", .int(3))])
        #expect(try ModelAdapter.compile(try Self.load(fine, tensors: [x, y])).operations.count == 1)
    }
}
