import DLAFormat
import Foundation
import Testing
@testable import DLAEngine

/// The engine's operations are one table (`OperatorTable`): the vocabulary it registers is the one
/// the documentation promises the compiler, and an operation added in one registration is built,
/// checked against the profile, costed and run by the executor on both its paths.
struct OperatorTableTests {
    /// The `unit/type` pairs of docs/EMULATOR.md's "Operation vocabulary" table.
    static func documentedVocabulary() throws -> [String] {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: repository.appendingPathComponent("docs/EMULATOR.md"), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("### Operation vocabulary") })
        var pairs: [String] = []
        for line in lines[(start + 1)...] {
            if line.hasPrefix("#") { break }
            guard line.hasPrefix("| `") else { continue }
            let cell = line.dropFirst(2).prefix { $0 != "|" }
            let names = cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            let unit = try #require(names.first)
            pairs += names.dropFirst().map { "\(unit)/\($0)" }
        }
        return pairs
    }

    @Test func theTableRegistersExactlyTheDocumentedVocabulary() throws {
        let registered = OperatorTable.standard.registrations.map { "\($0.unit)/\($0.type)" }
        let documented = try Self.documentedVocabulary()
        #expect(documented.count == 14)
        #expect(Set(registered).count == registered.count, "an operation is registered twice")
        #expect(Set(registered) == Set(documented))
    }

    @Test func everyRegistrationRunsOnTheUnitItIsWrittenFor() {
        for registration in OperatorTable.standard.registrations {
            #expect(registration.runsOn.rawValue == registration.unit.description, "\(registration.unit)/\(registration.type)")
        }
    }

    /// An operation the engine lacks, registered only here: INT8 negation (saturating), priced as
    /// a RUBIK pass and requiring RUBIK, so that each of its concerns is visible in a run.
    struct Negation: EngineOperator {
        static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
            let input = try d.input(0, "input")
            try d.expectOutput(try d.output(), shape: input.sampleShape, type: .int8)
            return Negation()
        }

        var requirements: [(HardwareProfile.Capabilities, String)] { [(.rubik, "negation (RUBIK)")] }

        func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { .int8 }

        func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
            .fixed(try query.model.dataMovement(.rubik, bytes: query.inputElements))
        }

        func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                     _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
            let input = try operands[0].int8(of: operation)
            return OperatorOutcome(value: .int8(try Tensor(shape: input.shape, scalars: input.scalars.map { $0 == .min ? .max : -$0 })))
        }
    }

    @Test func anOperationRegisteredInOnePlaceIsBuiltCheckedCostedAndRun() throws {
        let operation = DLAOperation(name: "neg", unit: .cpu, type: "negate", inputs: [0], outputs: [1])
        let file = try UntrustedModelTests.load(operation, tensors: [UntrustedModelTests.int8("x", [2, 3]), UntrustedModelTests.int8("y", [2, 3])])
        #expect(throws: EngineError.self) { try ModelAdapter.compile(file) }

        let table = OperatorTable(registrations: OperatorTable.standard.registrations
            + [OperatorRegistration(unit: .cpu, type: "negate", runsOn: .rubik, build: Negation.build)])
        let model = try ModelAdapter.compile(file, operators: table)
        #expect(model.operations[0].kind is Negation && model.operations[0].unit == .rubik)
        #expect(throws: EngineError.unsupported(unit: "operation 'neg' (rubik negate)", capability: "negation (RUBIK)", profile: "nv_large")) {
            try Executor(model: model, profile: .nvLarge)
        }

        let codes: [Int8] = [-128, -1, 0, 1, 127, 5, 9, -9, 3, 0, -2, 100]
        let input = EngineValue.int8(try Tensor(shape: [2, 2, 3], scalars: codes))
        let expected = EngineValue.int8(try Tensor(shape: [2, 2, 3], scalars: [127, 1, 0, -1, -127, -5, -9, 9, -3, 0, 2, -100]))
        let arena = try Executor(model: model, profile: .nvFull)
        #expect(arena.arena != nil)
        let general = try Executor(model: model, profile: .nvFull, threads: 1, strategy: nil, usesArena: false)
        for executor in [arena, general] {
            let result = try executor.run([input])
            #expect(result.outputs == [expected])
            let priced = try PerformanceModel(profile: .nvFull).dataMovement(.rubik, bytes: codes.count)
            #expect(result.stats.operations[0].cost.hardwareCycles == priced.hardwareCycles)
            #expect(result.stats.operations[0].cost.dramBytes == priced.dramBytes)
        }
    }
}
