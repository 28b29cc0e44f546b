#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `firmware-models/manifest.json`: the models a dlad build ships, as a Jetson ships firmware.
///
/// Only `name` and `file` are required to seed; `sha256`, when present, must match the file,
/// so a damaged or swapped file is refused instead of served.
public struct FirmwareManifest: Sendable, Codable, Equatable {
    public struct Entry: Sendable, Codable, Equatable {
        public var name: String
        public var file: String
        public var version: Int?
        public var sha256: String?
        public var precision: String?
        public var testError: Double?
        public var compressionRatio: Double?
        public var bytes: Int?

        public init(name: String, file: String, version: Int? = nil, sha256: String? = nil) {
            self.name = name
            self.file = file
            self.version = version
            self.sha256 = sha256
        }
    }

    public var models: [Entry]

    public init(models: [Entry]) { self.models = models }

    /// Parses a manifest, naming the file in the error.
    public static func decode(_ bytes: [UInt8], path: String) throws(SeedError) -> FirmwareManifest {
        do {
            return try JSONDecoder().decode(FirmwareManifest.self, from: Data(bytes))
        } catch {
            throw .manifest(path: path, reason: "not a valid manifest (expected {\"models\": [{\"name\": …, \"file\": …}, …]}): \(error)")
        }
    }
}
