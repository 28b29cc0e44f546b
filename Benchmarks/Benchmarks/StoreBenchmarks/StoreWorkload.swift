import Benchmark
import DLAStore
import Foundation
import Synchronization

/// Databases and rows for the store benchmarks, written through the store's public API.
enum StoreWorkload {
    static let models = ["lenet-300-100", "lenet-5", "alexnet", "vgg-16"]

    /// A fresh directory under the system's temporary directory, one per benchmark run.
    static func scratchPath(_ name: String) -> String {
        NSTemporaryDirectory() + "dlad-store-bench-\(name)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    static func scratchDirectory(_ name: String) throws -> String {
        let path = scratchPath(name)
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A store whose models each have three pushed versions, version 1 active.
    static func openStore(at path: String, durability: StoreOptions.Durability) async throws -> DLAStore {
        var options = StoreOptions()
        options.durability = durability
        let store = try await DLAStore.open(path: path, options: options)
        for (index, model) in models.enumerated() {
            for version in 1...3 {
                _ = try await store.registry.push(
                    model: model, bytes: [UInt8](repeating: UInt8(version), count: 1024),
                    sha256: [UInt8](repeating: UInt8(index * 4 + version), count: 32), precision: "int8",
                    profile: "nv_full", pushedBy: 0)
            }
            try await store.registry.activate(model: model, version: 1, by: 0)
        }
        return store
    }

    /// A typical row: batch of 1, ten INT8 logits as outputs, 1 % failures.
    static func record(_ sequence: Int) -> InferenceRecord {
        let failed = sequence % 100 == 99
        return InferenceRecord(
            model: models[sequence % models.count], version: sequence / models.count % 3 + 1, batchSize: 1,
            status: failed ? .failed(code: 500) : .ok, latencyMicroseconds: Int64(200 + sequence % 1800),
            emulatedCycles: Int64(100_000 + sequence % 5000), energyPicojoules: 1.25e6,
            inputSHA256: [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: 32),
            outputs: (0..<10).map { UInt8(truncatingIfNeeded: $0 &+ sequence) },
            top1: failed ? [] : [TopClass(classIndex: UInt32(sequence % 10), score: 0.875)],
            clientUID: 1000)
    }

    /// Writes `rows` rows from `writers` concurrent tasks, each awaiting its row's durability
    /// before writing the next, as concurrent API requests do.
    static func write(_ store: DLAStore, rows: Int, writers: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var sequence = writer
                    while sequence < rows {
                        _ = try await store.history.record(record(sequence))
                        sequence += writers
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

extension StoreWorkload {
    /// Writes rows until `stop` says so or `rows` are written, from `writers` concurrent tasks.
    static func write(_ store: DLAStore, rows: Int, writers: Int, until stop: @escaping @Sendable () -> Bool) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var sequence = writer
                    while sequence < rows && !stop() {
                        _ = try await store.history.record(record(sequence))
                        sequence += writers
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Measures one append of 4 KiB and its fdatasync, in a file of the temporary directory.
    static func appendAndSync(_ benchmark: Benchmark) throws {
        let path = NSTemporaryDirectory() + "dlad-store-bench-fsync-\(ProcessInfo.processInfo.processIdentifier)"
        let descriptor = Foundation.open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard descriptor >= 0 else { throw DLAStoreError.invalidArgument("cannot create \(path)") }
        defer {
            Foundation.close(descriptor)
            unlink(path)
        }
        let page = [UInt8](repeating: 0x5A, count: 4096)
        benchmark.startMeasurement()
        _ = page.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        fdatasync(descriptor)
        benchmark.stopMeasurement()
    }

    /// Closes and forgets a store opened by a setup hook.
    static func close(_ key: String) async {
        await openStores.withLock { $0.removeValue(forKey: key) }?.close()
    }
}

/// The 1,000,000-row history that the read benchmarks share. Built once through the store's API
/// (synchronous=NORMAL, 64 writers, to build it quickly) and kept in the temporary directory
/// across runs: the benchmark tool runs each benchmark in a process of its own.
enum HistoryDatabase {
    static let key = "history"
    static let directory = NSTemporaryDirectory() + "dlad-store-bench-history-\(historyRows)"
    static let path = directory + "/history.sqlite"
    static let completeMarker = directory + "/complete"
    static let work = directory + "/work-\(ProcessInfo.processInfo.processIdentifier).sqlite"
    /// The middle half of the time the rows were recorded over.
    static let timeRange = Mutex(Date.distantPast...Date.distantFuture)

    static func build() async throws {
        if FileManager.default.fileExists(atPath: completeMarker) { return }
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try await StoreWorkload.openStore(at: path, durability: .normal)
        try await StoreWorkload.write(store, rows: historyRows, writers: 64)
        await store.close()
        _ = FileManager.default.createFile(atPath: completeMarker, contents: nil)
    }

    /// Opens a working copy of the built database, so that benchmarks that write leave it as built.
    static func open() async throws {
        try await build()
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: path + suffix) {
            try? FileManager.default.removeItem(atPath: work + suffix)
            try FileManager.default.copyItem(atPath: path + suffix, toPath: work + suffix)
        }
        var options = StoreOptions()
        options.startupCheck = .quick
        let store = try await DLAStore.open(path: work, options: options)
        let oldest = try await store.history.query(HistoryQuery(limit: 1, order: .oldestFirst)).rows
        let newest = try await store.history.query(HistoryQuery(limit: 1)).rows
        if let first = oldest.first?.recordedAt, let last = newest.first?.recordedAt {
            let span = last.timeIntervalSince(first)
            timeRange.withLock { $0 = first.addingTimeInterval(span / 4)...first.addingTimeInterval(span * 3 / 4) }
        }
        openStores.withLock { $0[key] = store }
    }

    static func close() async {
        await StoreWorkload.close(key)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: work + suffix) }
    }
}
