#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import DLAFormat

@Suite struct SignatureTests {
    let key = try! DLASigningKey(rawRepresentation: [UInt8](repeating: 7, count: 32))

    @Test func validSignatureIsReported() throws {
        let bytes = try DLAFile.write(ModelFixtures.defaultModel(), signingKey: key, environment: [:])
        let loaded = try DLAFile.read(bytes, options: DLAReadOptions(requireSignature: true, trustedKeys: [key.publicKey]))
        #expect(loaded.signature == .valid(keyID: key.publicKey.keyIDHex))
        #expect(key.publicKey.keyIDHex.count == 16)
        let unsigned = try DLAFile.write(ModelFixtures.defaultModel(), environment: [:])
        #expect(loaded.digest == (try DLAFile.read(unsigned)).digest)
        #expect(Array(bytes.dropLast(DLAFileLayout.trailerSize)) == Array(unsigned.dropLast(DLAFileLayout.trailerSize)))
        #expect(try DLAFile.sign(unsigned, with: key) == bytes)
    }

    @Test func tamperedSignatureIsInvalidButOnlyFatalWhenRequired() throws {
        var bytes = try DLAFile.write(ModelFixtures.defaultModel(), signingKey: key, environment: [:])
        bytes[bytes.count - 1] ^= 0x01
        let loaded = try DLAFile.read(bytes)
        guard case .invalid(let keyID, _) = loaded.signature else {
            Issue.record("tampered signature reported as \(loaded.signature)")
            return
        }
        #expect(keyID == key.publicKey.keyIDHex)
        let error = #expect(throws: DLAFormatError.self) { try DLAFile.read(bytes, options: DLAReadOptions(requireSignature: true)) }
        #expect(error?.kind == .signatureInvalid)
        #expect(error?.offset != nil)
    }

    @Test func untrustedKeyAndUnsignedFiles() throws {
        let other = DLASigningKey.generate()
        let bytes = try DLAFile.write(ModelFixtures.defaultModel(), signingKey: other, environment: [:])
        guard case .invalid = try DLAFile.read(bytes, options: DLAReadOptions(trustedKeys: [key.publicKey])).signature else {
            Issue.record("signature by an untrusted key accepted")
            return
        }
        let unsigned = try DLAFile.write(ModelFixtures.defaultModel(), environment: [:])
        let error = #expect(throws: DLAFormatError.self) { try DLAFile.read(unsigned, options: DLAReadOptions(requireSignature: true)) }
        #expect(error?.kind == .signatureRequired)
    }

    @Test func tamperedContentFailsTheDigest() throws {
        let original = try DLAFile.write(ModelFixtures.defaultModel(), signingKey: key, environment: [:])
        var bytes = original
        let metadata = try #require(FileSurgery.section(bytes, kind: .metadata))
        bytes[metadata.offset + 5] ^= 0x20
        FileSurgery.reseal(&bytes)
        // Re-sealing fixes the digest, so the signature (over the old digest) must fail.
        guard case .invalid = try DLAFile.read(bytes).signature else {
            Issue.record("content change not detected by the signature")
            return
        }
        // With the section CRC fixed but the original digest, the digest check must fail.
        let trailer = bytes.count - DLAFileLayout.trailerSize
        bytes.replaceSubrange(trailer..<bytes.count, with: original[trailer...])
        let error = #expect(throws: DLAFormatError.self) { try DLAFile.read(bytes) }
        #expect(error?.kind == .digestMismatch)
    }

    @Test func keyFilesRoundTrip() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dla-keys-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let generated = DLASigningKey.generate()
        try generated.write(path: directory + "/model.key")
        try generated.publicKey.write(path: directory + "/model.pub")
        #expect(try DLASigningKey.load(path: directory + "/model.key").rawRepresentation == generated.rawRepresentation)
        #expect(try DLAPublicKey.load(path: directory + "/model.pub") == generated.publicKey)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/model.key")
        #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o077 } == 0)
        #expect(generated.fileText.hasPrefix("dla-ed25519-private-key-v1\n"))
        #expect(throws: DLAFormatError.self) { try DLASigningKey(fileText: "dla-ed25519-private-key-v1\nzz\n") }
        #expect(throws: DLAFormatError.self) { try DLAPublicKey(fileText: generated.fileText) }
        #expect(throws: DLAFormatError.self) { try DLASigningKey.load(path: directory + "/missing.key") }
    }
}
