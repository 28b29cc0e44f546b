#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import DLADaemon
import DLAStore
import Testing

@Suite final class FirmwareSeederTests {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.path + "/dlad-seed-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: root + "/fw", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    private func write(_ bytes: [UInt8], _ name: String) {
        #expect(FileManager.default.createFile(atPath: root + "/fw/" + name, contents: Data(bytes)))
    }

    private func hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    @Test func seedsEveryValidFileRefusesCorruptOnesAndIsIdempotent() async throws {
        let good = try TestModels.bytes(name: "alpha")
        var corrupt = try TestModels.bytes(name: "beta")
        corrupt[corrupt.count / 2] ^= 0xFF
        write(good, "a.dla")
        write(corrupt, "b.dla")
        write([1, 2, 3], "notes.txt")
        let store = try await DLAStore.open(path: root + "/db.sqlite")

        let first = await FirmwareSeeder(directory: root + "/fw", store: store, uid: 7).seed()
        #expect(first.outcomes.map(\.model) == ["alpha"])
        #expect(first.outcomes.first?.action == .added)
        #expect(first.outcomes.first?.activated == true)
        #expect(first.failures.count == 1)
        #expect(first.failures.first.map { "\($0)" }?.contains("b.dla: refused") == true)

        let second = await FirmwareSeeder(directory: root + "/fw", store: store, uid: 7).seed()
        #expect(second.outcomes.first?.action == .alreadyPresent)
        #expect(second.outcomes.first?.activated == false)
        let versions = try await store.registry.versions(of: "alpha")
        #expect(versions.count == 1)
        #expect(versions.first?.sha256 == Array(SHA256.hash(data: good)))
        #expect(versions.first?.pushedBy == 7)
    }

    @Test func neverOverridesTheOperatorsActiveVersion() async throws {
        let store = try await DLAStore.open(path: root + "/db.sqlite")
        let operatorBytes = try TestModels.bytes(name: "alpha", modelVersion: 9, bias: 5)
        let pushed = try await store.registry.push(
            model: "alpha", bytes: operatorBytes, sha256: Array(SHA256.hash(data: operatorBytes)),
            precision: "int8", profile: "nv_full", pushedBy: 1000)
        try await store.registry.activate(model: "alpha", version: pushed.version.version, by: 1000)

        write(try TestModels.bytes(name: "alpha"), "a.dla")
        let report = await FirmwareSeeder(directory: root + "/fw", store: store, uid: 0).seed()
        #expect(report.outcomes.first?.action == .added)
        #expect(report.outcomes.first?.activated == false)
        #expect(try await store.registry.activeVersion(of: "alpha")?.version == pushed.version.version)
    }

    @Test func manifestDigestAndNameAreChecked() async throws {
        let alpha = try TestModels.bytes(name: "alpha")
        let beta = try TestModels.bytes(name: "beta")
        let gamma = try TestModels.bytes(name: "gamma")
        write(alpha, "alpha.dla")
        write(beta, "beta.dla")
        write(gamma, "gamma.dla")
        let manifest = """
            {"models": [
              {"name": "alpha", "file": "alpha.dla", "sha256": "\(hex(alpha))"},
              {"name": "beta", "file": "beta.dla", "sha256": "\(hex(alpha))"},
              {"name": "delta", "file": "gamma.dla"},
              {"name": "missing", "file": "missing.dla"}
            ]}
            """
        write(Array(manifest.utf8), "manifest.json")
        let store = try await DLAStore.open(path: root + "/db.sqlite")
        let report = await FirmwareSeeder(directory: root + "/fw", store: store, uid: 0).seed()
        #expect(report.outcomes.map(\.model) == ["alpha"])
        let failures = report.failures.map { "\($0)" }
        #expect(failures.count == 3)
        #expect(failures.contains { $0.contains("beta.dla") && $0.contains("SHA-256 expected") })
        #expect(failures.contains { $0.contains("gamma.dla") && $0.contains("'delta'") })
        #expect(failures.contains { $0.contains("missing.dla") && $0.contains("cannot read") })
        #expect(try await store.registry.models().map(\.name) == ["alpha"])
    }

    @Test func malformedManifestIsReportedAndNothingIsSeeded() async throws {
        write(try TestModels.bytes(name: "alpha"), "alpha.dla")
        write(Array("{\"models\": 3}".utf8), "manifest.json")
        let store = try await DLAStore.open(path: root + "/db.sqlite")
        let report = await FirmwareSeeder(directory: root + "/fw", store: store, uid: 0).seed()
        #expect(report.outcomes.isEmpty)
        #expect(report.failures.first.map { "\($0)" }?.contains("manifest.json: not a valid manifest") == true)
    }

    @Test func stateDirectoryIsCreatedAndAFileInItsPlaceIsRefused() throws {
        let state = try StateDirectory.prepare(root + "/state/nested")
        #expect(state.databasePath == root + "/state/nested/dlad.sqlite")
        #expect(FileManager.default.createFile(atPath: root + "/plain", contents: Data()))
        #expect(throws: StateDirectoryError.notADirectory(root + "/plain")) {
            try StateDirectory.prepare(root + "/plain")
        }
    }
}
