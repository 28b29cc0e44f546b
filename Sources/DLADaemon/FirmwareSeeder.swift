#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import DLAFormat
import DLAStore

/// Registers the models shipped in a firmware directory, so that a fresh daemon has something
/// to serve. Seeding is idempotent (a version is identified by the SHA-256 of its file) and
/// never overrides an operator's choice: a shipped version is activated only for a model that
/// has no active version yet.
public struct FirmwareSeeder: Sendable {
    /// What happened to one shipped model.
    public struct Outcome: Sendable, Equatable {
        public enum Action: Sendable, Equatable {
            /// Stored as a new version (and activated if `activated`).
            case added
            /// Already stored: the same bytes are that version.
            case alreadyPresent
        }
        public var model: String
        public var version: Int
        public var action: Action
        public var activated: Bool
        public var file: String
    }

    public struct Report: Sendable {
        public var outcomes: [Outcome] = []
        public var failures: [SeedError] = []
    }

    public let directory: String
    public let store: DLAStore
    /// The uid recorded as the pusher of shipped models (the daemon's own).
    public let uid: UInt32

    public init(directory: String, store: DLAStore, uid: UInt32) {
        self.directory = directory
        self.store = store
        self.uid = uid
    }

    /// Seeds every model the manifest lists, or, without a manifest, every `*.dla` file in the
    /// directory (sorted by name, so runs are repeatable). A missing directory seeds nothing.
    public func seed() async -> Report {
        var report = Report()
        let entries: [FirmwareManifest.Entry]
        do {
            entries = try listEntries()
        } catch {
            report.failures.append(error)
            return report
        }
        for entry in entries {
            do {
                report.outcomes.append(try await seed(entry))
            } catch {
                report.failures.append(error)
            }
        }
        return report
    }

    private func listEntries() throws(SeedError) -> [FirmwareManifest.Entry] {
        let manifestPath = directory + "/manifest.json"
        if let bytes = FileManager.default.contents(atPath: manifestPath) {
            return try FirmwareManifest.decode([UInt8](bytes), path: manifestPath).models
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { $0.hasSuffix(".dla") }.sorted().map { name in
            FirmwareManifest.Entry(name: "", file: name)
        }
    }

    private func seed(_ entry: FirmwareManifest.Entry) async throws(SeedError) -> Outcome {
        let path = entry.file.hasPrefix("/") ? entry.file : directory + "/" + entry.file
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        let bytes = [UInt8](data)
        let sha256 = Array(SHA256.hash(data: bytes))
        let hex = hexString(sha256)
        if let expected = entry.sha256?.lowercased(), expected != hex {
            throw .digestMismatch(path: path, expected: expected, found: hex)
        }
        let loaded: DLALoadedModel
        do {
            loaded = try DLAFile.read(bytes)
        } catch {
            throw .invalidModel(path: path, reason: error.description)
        }
        let name = loaded.metadata.name
        if !entry.name.isEmpty, entry.name != name {
            throw .nameMismatch(path: path, manifest: entry.name, file: name)
        }
        let summary = DLAModelSummary(loaded)
        var signer: String?
        if case .valid(let keyID) = loaded.signature { signer = keyID }
        do {
            let pushed = try await store.registry.push(
                model: name, bytes: bytes, sha256: sha256, precision: summary.precision,
                profile: summary.profile, metadataJSON: summary.jsonString(), pushedBy: uid,
                signerKeyID: signer)
            var activated = false
            if try await store.registry.activeVersion(of: name) == nil {
                try await store.registry.activate(model: name, version: pushed.version.version, by: uid)
                activated = true
            }
            return Outcome(model: name, version: pushed.version.version,
                           action: pushed.created ? .added : .alreadyPresent, activated: activated, file: path)
        } catch {
            throw .store(path: path, reason: error.description)
        }
    }
}
