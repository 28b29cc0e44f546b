import ArgumentParser
import DLAFormat
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `dlactl keygen`: an Ed25519 key pair for signing models (`compile --sign`) and for the
/// daemon's list of trusted signers.
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an Ed25519 key pair for signing .dla models.",
        discussion: "Writes the private key to PATH (mode 0600) and the public key to PATH.pub, and prints the key id."
    )

    @Option(name: [.short, .customLong("output")], help: "Where to write the private key.")
    var output: String

    @Flag(help: "Overwrite existing key files.")
    var force = false

    func run() throws {
        let publicPath = output + ".pub"
        if !force {
            for path in [output, publicPath] where FileManager.default.fileExists(atPath: path) {
                throw CLIError("'\(path)' already exists (use --force to overwrite)")
            }
        }
        let key = DLASigningKey.generate()
        try key.write(path: output)
        try key.publicKey.write(path: publicPath)
        print("private key \(output)")
        print("public key  \(publicPath)")
        print("key id      \(key.publicKey.keyIDHex)")
    }
}
