#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto

/// An Ed25519 private key that signs `.dla` files.
///
/// Key files are two text lines: `dla-ed25519-private-key-v1` and the 32-byte raw key as
/// 64 lowercase hex digits (the public key file uses `dla-ed25519-public-key-v1`). Plain
/// text keeps them diffable and easy to provision; the private file is created mode 0600.
public struct DLASigningKey: Sendable {
    static let fileHeader = "dla-ed25519-private-key-v1"

    let key: Curve25519.Signing.PrivateKey

    public static func generate() -> DLASigningKey { DLASigningKey(key: Curve25519.Signing.PrivateKey()) }

    public init(rawRepresentation: [UInt8]) throws(DLAFormatError) {
        do {
            key = try Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation)
        } catch {
            throw DLAFormatError(.keyFile, section: "signing key", "not a 32-byte Ed25519 private key (\(rawRepresentation.count) bytes)")
        }
    }

    private init(key: Curve25519.Signing.PrivateKey) { self.key = key }

    public var rawRepresentation: [UInt8] { Array(key.rawRepresentation) }
    public var publicKey: DLAPublicKey { DLAPublicKey(key: key.publicKey) }

    /// The key file text (see the type's documentation).
    public var fileText: String { "\(Self.fileHeader)\n\(hexString(rawRepresentation))\n" }

    public init(fileText: String) throws(DLAFormatError) {
        try self.init(rawRepresentation: try parseKeyFile(fileText, header: Self.fileHeader, what: "private key file"))
    }

    public static func load(path: String) throws(DLAFormatError) -> DLASigningKey {
        try DLASigningKey(fileText: try readTextFile(path, what: "private key file"))
    }

    /// Writes the key file readable by its owner only.
    public func write(path: String) throws(DLAFormatError) {
        try writeTextFile(path, fileText, permissions: 0o600, what: "private key file")
    }

    func sign(_ message: [UInt8]) throws(DLAFormatError) -> [UInt8] {
        do {
            return Array(try key.signature(for: message))
        } catch {
            throw DLAFormatError(.signatureInvalid, section: "signature", "Ed25519 signing failed: \(error)")
        }
    }
}

/// An Ed25519 public key that verifies `.dla` signatures.
public struct DLAPublicKey: Sendable, Hashable {
    static let fileHeader = "dla-ed25519-public-key-v1"

    public let rawRepresentation: [UInt8]

    init(key: Curve25519.Signing.PublicKey) { rawRepresentation = Array(key.rawRepresentation) }

    public init(rawRepresentation: [UInt8]) throws(DLAFormatError) {
        guard (try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)) != nil else {
            throw DLAFormatError(.keyFile, section: "public key", "not a 32-byte Ed25519 public key (\(rawRepresentation.count) bytes)")
        }
        self.rawRepresentation = rawRepresentation
    }

    /// First 8 bytes of SHA-256 of the raw public key: short enough to print, long enough
    /// that distinct keys of one deployment do not collide.
    public var keyID: [UInt8] { Array(SHA256.hash(data: rawRepresentation).prefix(8)) }
    public var keyIDHex: String { hexString(keyID) }

    public var fileText: String { "\(Self.fileHeader)\n\(hexString(rawRepresentation))\n" }

    public init(fileText: String) throws(DLAFormatError) {
        try self.init(rawRepresentation: try parseKeyFile(fileText, header: Self.fileHeader, what: "public key file"))
    }

    public static func load(path: String) throws(DLAFormatError) -> DLAPublicKey {
        try DLAPublicKey(fileText: try readTextFile(path, what: "public key file"))
    }

    public func write(path: String) throws(DLAFormatError) {
        try writeTextFile(path, fileText, permissions: 0o644, what: "public key file")
    }

    func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation) else { return false }
        return key.isValidSignature(signature, for: message)
    }
}

/// Lowercase hex, two digits a byte: how digests and key ids are written everywhere in dlad.
public func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: text, as: UTF8.self)
}

private func parseKeyFile(_ text: String, header: String, what: String) throws(DLAFormatError) -> [UInt8] {
    let lines = text.split(whereSeparator: \.isNewline).map { String($0.filter { !$0.isWhitespace }) }
        .filter { !$0.isEmpty }
    guard lines.count == 2, lines[0] == header else {
        throw DLAFormatError(.keyFile, section: what, "expected the line '\(header)' followed by 64 hex digits")
    }
    let digits = Array(lines[1].utf8)
    guard digits.count == 64 else {
        throw DLAFormatError(.keyFile, section: what, "expected 64 hex digits, found \(digits.count) characters")
    }
    var bytes: [UInt8] = []
    for index in stride(from: 0, to: 64, by: 2) {
        guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else {
            throw DLAFormatError(.keyFile, section: what, "invalid hex digit at character \(index + 1) of the key line")
        }
        bytes.append(high << 4 | low)
    }
    return bytes
}

private func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
}

private func readTextFile(_ path: String, what: String) throws(DLAFormatError) -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw DLAFormatError(.keyFile, section: what, "cannot read \(path)")
    }
    return String(decoding: data, as: UTF8.self)
}

private func writeTextFile(_ path: String, _ text: String, permissions: Int, what: String) throws(DLAFormatError) {
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8),
                                         attributes: [.posixPermissions: permissions]) else {
        throw DLAFormatError(.keyFile, section: what, "cannot write \(path)")
    }
}
