import Testing
@testable import DLAFormat

/// The writer reads its output back, so these also pin the reader's graph checks.
@Suite struct GraphValidationTests {
    private func rejection(_ edit: (inout DLAModel) -> Void) -> DLAFormatError? {
        var model = ModelFixtures.defaultModel()
        edit(&model)
        return #expect(throws: DLAFormatError.self) { try DLAFile.write(model, environment: [:]) }
    }

    @Test func operationsMustBeTopologicallyOrdered() {
        let error = rejection { $0.graph.operations.swapAt(0, 1) }
        #expect(error?.kind == .invalidGraph)
        #expect(error?.description.contains("not produced before this operation") == true)
        #expect(error?.section == "graph section")
    }

    @Test func tensorsMustNotDangle() {
        let error = rejection { $0.graph.tensors.append(DLATensorSpec(name: "orphan", shape: [1], dataType: .int8)) }
        #expect(error?.description.contains("never produced") == true)
        let unread = rejection {
            $0.graph.tensors.append(DLATensorSpec(name: "unread", shape: [1], dataType: .int8))
            $0.graph.operations[0].outputs.append(3)
        }
        #expect(unread?.description.contains("dangling") == true)
    }

    @Test func tensorsAreAssignedOnce() {
        let error = rejection { $0.graph.operations[1].outputs = [1] }
        #expect(error?.description.contains("already produced") == true)
    }

    @Test func idsAndReferencesAreInRange() {
        #expect(rejection { $0.graph.operations[0].inputs = [9] }?.description.contains("out of range") == true)
        #expect(rejection { $0.graph.operations[0].attributes.append(DLAAttribute("w9", .weight(9))) }?
            .description.contains("references weight tensor 9") == true)
        #expect(rejection { $0.graph.operations[0].attributes.removeAll { $0.key == "w1" } }?
            .description.contains("not referenced by any operation") == true)
    }

    @Test func attributeKeysAreUnique() {
        let error = rejection { $0.graph.operations[0].attributes.append(DLAAttribute("groups", .int(2))) }
        #expect(error?.description.contains("appears twice") == true)
    }

    @Test func interfaceMatchesMetadata() {
        let error = rejection { $0.metadata.inputs[0].name = "other" }
        #expect(error?.description.contains("differs from the metadata") == true)
        #expect(rejection { $0.metadata.inputs[0].shape = [4, -1] }?.kind == .malformed)
    }

    @Test func weightTensorsAreChecked() {
        #expect(rejection { $0.weights[0].shape = [5, 4] }?.kind == .invalidModel)
        #expect(rejection { $0.weights[0].quantization = .perChannel(axis: 0, scales: [1], zeroPoints: [0]) }?.kind == .invalidModel)
        #expect(rejection { $0.weights[0].quantization = .perTensor(scale: .nan, zeroPoint: 0) }?.kind == .invalidModel)
        #expect(rejection { $0.weights[1].encoding = DLATensorEncoding(huffmanValues: true) }?.kind == .invalidModel)
    }

    @Test func selfTestsMatchTheInterface() {
        let error = rejection { $0.selfTests[0].inputs[0] = DLASelfTestTensor(shape: [1, 5], values: .int8([1, 1, 1, 1, 1])) }
        #expect(error?.section == "self-test section")
    }
}
