@testable import DLAStore
import Testing

@Suite struct RegistryTests {
    @Test func pushNumbersVersionsPerModelAndIsIdempotentBySHA256() async throws {
        let directory = try TestDirectory()
        let store = try await DLAStore.open(path: directory.file("r.sqlite"))
        let first = try await store.registry.push(
            model: "lenet", bytes: [1, 2, 3], sha256: Fixture.sha(1), precision: "int8", profile: "nv_small",
            metadataJSON: #"{"layers":4}"#, pushedBy: 1000, signerKeyID: "key-1")
        let second = try await store.registry.push(
            model: "lenet", bytes: [4, 5], sha256: Fixture.sha(2), precision: "fp16", profile: "nv_full", pushedBy: 1001)
        let again = try await store.registry.push(
            model: "lenet", bytes: [1, 2, 3], sha256: Fixture.sha(1), precision: "int8", profile: "nv_small", pushedBy: 7)
        let other = try await store.registry.push(
            model: "alexnet", bytes: [9], sha256: Fixture.sha(1), precision: "int8", profile: "xavier", pushedBy: 0)
        #expect(first.created && second.created && !again.created && other.created)
        #expect(first.version.version == 1 && second.version.version == 2 && other.version.version == 1)
        #expect(again.version == first.version)
        #expect(first.version.size == 3 && first.version.signerKeyID == "key-1" && first.version.pushedBy == 1000)
        #expect(first.version.metadataJSON == #"{"layers":4}"#)
        #expect(try await store.registry.bytes(model: "lenet", version: 2) == [4, 5])
        #expect(try await store.registry.versions(of: "lenet").map(\.version) == [1, 2])
        #expect(try await store.registry.models().map(\.name) == ["alexnet", "lenet"])
    }

    @Test func deletedVersionNumbersAreNeverReused() async throws {
        let directory = try TestDirectory()
        let store = try await DLAStore.open(path: directory.file("r.sqlite"))
        for seed in UInt8(1)...2 {
            _ = try await store.registry.push(
                model: "m", bytes: [seed], sha256: Fixture.sha(seed), precision: "int8", profile: "nv_small", pushedBy: 0)
        }
        try await store.registry.delete(model: "m", version: 2)
        let next = try await store.registry.push(
            model: "m", bytes: [3], sha256: Fixture.sha(3), precision: "int8", profile: "nv_small", pushedBy: 0)
        #expect(next.version.version == 3)
        await #expect(throws: DLAStoreError.versionNotFound(model: "m", version: 2)) {
            try await store.registry.bytes(model: "m", version: 2)
        }
    }

    @Test func rollbackWalksBackThroughTheActivationLog() async throws {
        let directory = try TestDirectory()
        let store = try await DLAStore.open(path: directory.file("r.sqlite"))
        for seed in UInt8(1)...3 {
            _ = try await store.registry.push(
                model: "m", bytes: [seed], sha256: Fixture.sha(seed), precision: "int8", profile: "nv_small", pushedBy: 0)
        }
        await #expect(throws: DLAStoreError.nothingToRollBack(model: "m")) { try await store.registry.rollback(model: "m", by: 1) }
        try await store.registry.activate(model: "m", version: 1, by: 10)
        try await store.registry.activate(model: "m", version: 2, by: 11)
        try await store.registry.activate(model: "m", version: 3, by: 12)
        #expect(try await store.registry.rollbackTarget(model: "m") == 2)
        await #expect(throws: DLAStoreError.rollbackTargetChanged(model: "m", expected: 1, found: 2)) {
            try await store.registry.rollback(model: "m", by: 13, expected: 1)
        }
        #expect(try await store.registry.activeVersion(of: "m")?.version == 3)
        let back = try await store.registry.rollback(model: "m", by: 13, expected: 2)
        #expect(back.kind == .rollback && back.fromVersion == 3 && back.toVersion == 2 && back.by == 13)
        try await store.registry.rollback(model: "m", by: 13)
        #expect(try await store.registry.activeVersion(of: "m")?.version == 1)
        await #expect(throws: DLAStoreError.nothingToRollBack(model: "m")) { try await store.registry.rollback(model: "m", by: 1) }
        await #expect(throws: DLAStoreError.nothingToRollBack(model: "m")) { try await store.registry.rollbackTarget(model: "m") }
        // A fresh activation after rollbacks starts a new step that one rollback undoes.
        try await store.registry.activate(model: "m", version: 3, by: 14)
        #expect(try await store.registry.rollback(model: "m", by: 15).toVersion == 1)
        let log = try await store.registry.activations(of: "m")
        #expect(log.map(\.toVersion) == [1, 3, 1, 2, 3, 2, 1])
        #expect(log.map(\.fromVersion) == [3, 1, 2, 3, 2, 1, nil])
    }

    @Test func activeVersionCannotBeDeletedAndErrorsNameWhatWasMissing() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        await #expect(throws: DLAStoreError.versionIsActive(model: "lenet", version: 1)) {
            try await store.registry.delete(model: "lenet", version: 1)
        }
        await #expect(throws: DLAStoreError.versionNotFound(model: "lenet", version: 9)) {
            try await store.registry.activate(model: "lenet", version: 9, by: 0)
        }
        await #expect(throws: DLAStoreError.modelNotFound(model: "vgg")) { try await store.registry.versions(of: "vgg") }
        await #expect(throws: DLAStoreError.self) {
            try await store.registry.push(
                model: "bad", bytes: [1], sha256: [1, 2], precision: "int8", profile: "nv_small", pushedBy: 0)
        }
        await #expect(throws: DLAStoreError.self) {
            try await store.registry.push(
                model: "bad", bytes: [1], sha256: Fixture.sha(9), precision: "int8", profile: "nv_small",
                metadataJSON: "{not json", pushedBy: 0)
        }
        #expect(try await store.registry.models().map(\.name) == ["lenet"])
    }
}
