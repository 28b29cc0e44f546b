#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAFormat

/// The Ed25519 public keys whose signatures dlad trusts: every `*.pub` file (as written by
/// `dlactl keygen`) in one directory, read at start and on SIGHUP.
public struct TrustedKeys: Sendable {
    public var keys: [DLAPublicKey]
    /// Files that could not be read as keys, with the reason (logged, never fatal).
    public var problems: [String]

    public init(keys: [DLAPublicKey] = [], problems: [String] = []) {
        self.keys = keys
        self.problems = problems
    }

    public static func load(directory: String) -> TrustedKeys {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return TrustedKeys() }
        var loaded = TrustedKeys()
        for name in names.sorted() where name.hasSuffix(".pub") {
            do {
                loaded.keys.append(try DLAPublicKey.load(path: directory + "/" + name))
            } catch {
                loaded.problems.append("\(directory)/\(name): \(error)")
            }
        }
        return loaded
    }
}
