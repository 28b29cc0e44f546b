#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One pushed version of a model, without its bytes (see `ModelRegistry.bytes(model:version:)`).
public struct ModelVersion: Sendable, Equatable {
    public var model: String
    /// 1, 2, 3, … per model; never reused, even after a delete.
    public var version: Int
    public var sha256: [UInt8]
    public var size: Int64
    public var precision: String
    public var profile: String
    /// Free-form metadata as a JSON text (validated by SQLite's `json_valid`).
    public var metadataJSON: String
    public var createdAt: Date
    public var pushedBy: UInt32
    public var signerKeyID: String?

    static let selectColumns = """
        m.name, v.version, v.sha256, v.size, v.precision, v.profile, v.metadata, v.created_at, \
        v.pushed_by, v.signer_key_id
        """

    init(_ statement: SQLiteStatement) {
        model = statement.text(0) ?? ""
        version = Int(statement.int64(1))
        sha256 = statement.blob(2)
        size = statement.int64(3)
        precision = statement.text(4) ?? ""
        profile = statement.text(5) ?? ""
        metadataJSON = statement.text(6) ?? "{}"
        createdAt = Date(unixMicroseconds: statement.int64(7))
        pushedBy = UInt32(truncatingIfNeeded: statement.int64(8))
        signerKeyID = statement.text(9)
    }
}

/// What `ModelRegistry.push` did.
public struct PushResult: Sendable, Equatable {
    public var version: ModelVersion
    /// False when these bytes (by SHA-256) were already a version of the model: nothing was written.
    public var created: Bool
}

/// A model and where it stands.
public struct ModelSummary: Sendable, Equatable {
    public var name: String
    public var activeVersion: Int?
    /// The highest version number ever pushed (it may since have been deleted).
    public var lastVersion: Int
    public var versionCount: Int
}

/// One entry of a model's activation log.
public struct Activation: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case activate
        case rollback
    }

    public var id: Int64
    public var model: String
    public var kind: Kind
    /// The version active before; nil for a model's first activation.
    public var fromVersion: Int?
    public var toVersion: Int
    public var by: UInt32
    public var at: Date
}
