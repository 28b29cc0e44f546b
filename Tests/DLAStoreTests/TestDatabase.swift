@testable import DLAStore
import Foundation

/// A fresh directory per test for database files, removed when the value goes.
final class TestDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "dlastore-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

enum Fixture {
    static let digest = [UInt8](repeating: 0x5A, count: 32)

    static func sha(_ seed: UInt8) -> [UInt8] { [UInt8](repeating: seed, count: 32) }

    static func record(
        model: String = "lenet", version: Int = 1, status: InferenceStatus = .ok, latency: Int64 = 100,
        client: UInt32 = 1000
    ) -> InferenceRecord {
        InferenceRecord(
            model: model, version: version, batchSize: 2, status: status, latencyMicroseconds: latency,
            emulatedCycles: 12_345, energyPicojoules: 678.5, inputSHA256: digest, input: [1, 2, 3],
            outputs: [9, 8, 7, 6], top1: status == .ok ? [TopClass(classIndex: 3, score: 0.9), TopClass(classIndex: 7, score: 0.25)] : [],
            clientUID: client, requestID: "r\(latency)-\(model)", error: status == .ok ? nil : "the engine refused: “x”, 3")
    }

    /// Opens a store with one pushed, activated model `lenet`.
    static func storeWithModel(_ directory: TestDirectory, options: StoreOptions = StoreOptions()) async throws -> DLAStore {
        let store = try await DLAStore.open(path: directory.file("dlad.sqlite"), options: options)
        let pushed = try await store.registry.push(
            model: "lenet", bytes: [1, 2, 3], sha256: sha(1), precision: "int8", profile: "nv_small", pushedBy: 0)
        try await store.registry.activate(model: "lenet", version: pushed.version.version, by: 0)
        return store
    }
}
