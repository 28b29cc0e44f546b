#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one `error: …` line to stderr, folding any newlines so the message stays one line.
func printError(_ message: String) {
    let oneLine = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    fputs("error: \(oneLine)\n", stderr)
}

/// A runtime failure of a subcommand, reported as one `error:` line.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
