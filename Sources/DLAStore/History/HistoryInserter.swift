#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Writes history rows on the writer connection, inside the group's transaction.
final class HistoryInserter {
    private let connection: SQLiteConnection
    private let storeInputs: Bool
    /// Model ids by name. Models are never deleted, so an id once seen stays valid.
    private var modelIDs: [String: Int64] = [:]
    /// The last time stamped; times never go backwards in id order (a clock step back stalls
    /// them until the clock catches up), which lets time ranges become id ranges.
    private var lastStamp: Int64

    init(connection: SQLiteConnection, storeInputs: Bool) throws(DLAStoreError) {
        self.connection = connection
        self.storeInputs = storeInputs
        lastStamp = try connection.integer("SELECT max(at) FROM inferences") ?? 0
    }

    /// Inserts a record that `validate` accepted.
    func insert(_ record: InferenceRecord) throws(DLAStoreError) -> Int64 {
        let modelID = try modelID(named: record.model)
        lastStamp = max(lastStamp, try Date().unixMicroseconds("the clock"))
        let statement = try connection.cached("""
            INSERT INTO inferences (at, model_id, version, batch_size, status, latency_us, cycles, energy_pj,
                input_sha256, outputs, client_uid, input, top1, request_id, error)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.run(
            .integer(lastStamp), .integer(modelID), .integer(Int64(record.version)),
            .integer(Int64(record.batchSize)), .integer(record.status.storedValue),
            .integer(record.latencyMicroseconds), .integer(record.emulatedCycles),
            .real(record.energyPicojoules), .blob(record.inputSHA256), .blob(record.outputs),
            .integer(Int64(record.clientUID)), .optionalBlob(storeInputs ? record.input : nil),
            .blob(TopClass.encode(record.top1)), .text(record.requestID), .optionalText(record.error))
        return connection.lastInsertedRowID
    }

    private func modelID(named name: String) throws(DLAStoreError) -> Int64 {
        if let id = modelIDs[name] { return id }
        let statement = try connection.cached("SELECT id FROM models WHERE name = ?")
        // A cached statement left mid-result would pin its snapshot and stop every checkpoint.
        defer { statement.reset() }
        try statement.bind(.text(name))
        guard try statement.step() else { throw .modelNotFound(model: name) }
        let id = statement.int64(0)
        modelIDs[name] = id
        return id
    }

    static func validate(_ record: InferenceRecord) throws(DLAStoreError) {
        guard record.inputSHA256.count == 32 else {
            throw .invalidArgument("input SHA-256: expected 32 bytes, found \(record.inputSHA256.count)")
        }
        guard record.batchSize >= 1 else {
            throw .invalidArgument("batch size: expected at least 1, found \(record.batchSize)")
        }
        guard record.version >= 1 else {
            throw .invalidArgument("model version: expected at least 1, found \(record.version)")
        }
        // SQLite stores NaN as NULL: the NOT NULL column would then fail the whole group's
        // transaction, every other caller's row with it.
        guard record.energyPicojoules.isFinite, record.energyPicojoules >= 0 else {
            throw .invalidArgument("energy: expected a finite, non-negative number of picojoules, found \(record.energyPicojoules)")
        }
        guard record.latencyMicroseconds >= 0, record.emulatedCycles >= 0 else {
            throw .invalidArgument(
                "latency and cycles: expected non-negative, found \(record.latencyMicroseconds) µs, "
                    + "\(record.emulatedCycles) cycles")
        }
        guard record.requestID.utf8.count <= InferenceRecord.maxRequestIDBytes else {
            throw .invalidArgument("request id: expected at most \(InferenceRecord.maxRequestIDBytes) bytes, found \(record.requestID.utf8.count)")
        }
        if let error = record.error {
            guard record.status != .ok else { throw .invalidArgument("error message: a successful request has none") }
            guard error.utf8.count <= InferenceRecord.maxErrorBytes else {
                throw .invalidArgument("error message: expected at most \(InferenceRecord.maxErrorBytes) bytes, found \(error.utf8.count)")
            }
        }
        if case .failed(code: 0) = record.status {
            throw .invalidArgument("failed status: expected a non-zero error code, found 0")
        }
        switch record.status {
        case .ok:
            guard record.top1.count == record.batchSize else {
                throw .invalidArgument(
                    "top-1: expected one entry per sample (\(record.batchSize)), found \(record.top1.count)")
            }
        case .failed:
            guard record.top1.isEmpty || record.top1.count == record.batchSize else {
                throw .invalidArgument(
                    "top-1 of a failed request: expected none or \(record.batchSize), found \(record.top1.count)")
            }
        }
    }
}
