#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One stored history row: the record as written, its id and the time the store stamped on it.
public struct InferenceRow: Sendable, Equatable {
    /// Monotonic, never reused: the keyset cursor of `HistoryQuery.after`.
    public var id: Int64
    /// When the store received the record; non-decreasing in `id` (see `InferenceHistory.record`).
    public var recordedAt: Date
    public var record: InferenceRecord

    static let selectColumns = """
        id, at, model_id, version, batch_size, status, latency_us, cycles, energy_pj, \
        input_sha256, outputs, client_uid, input, top1, request_id, error
        """

    /// Decodes a row selected with `selectColumns`; `modelNames` maps model ids to names.
    init(_ statement: SQLiteStatement, modelNames: [Int64: String]) throws(DLAStoreError) {
        let modelID = statement.int64(2)
        id = statement.int64(0)
        recordedAt = Date(unixMicroseconds: statement.int64(1))
        record = InferenceRecord(
            model: modelNames[modelID] ?? "#\(modelID)",
            version: Int(statement.int64(3)),
            batchSize: Int(statement.int64(4)),
            status: InferenceStatus(storedValue: statement.int64(5)),
            latencyMicroseconds: statement.int64(6),
            emulatedCycles: statement.int64(7),
            energyPicojoules: statement.double(8),
            inputSHA256: statement.blob(9),
            input: statement.optionalBlob(12),
            outputs: statement.blob(10),
            top1: try TopClass.decode(statement.blob(13)),
            clientUID: UInt32(truncatingIfNeeded: statement.int64(11)),
            requestID: statement.text(14) ?? "",
            error: statement.text(15))
    }
}
