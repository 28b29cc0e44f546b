#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads a whole file, or explains in one line why it could not.
func readFileBytes(_ path: String, what: String) throws -> [UInt8] {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
        throw CLIError("\(what) '\(path)' does not exist")
    }
    guard attributes[.type] as? FileAttributeType != .typeDirectory else {
        throw CLIError("\(what) '\(path)' is a directory")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError("cannot read \(what) '\(path)' (not a regular file, or permission denied)")
    }
    return [UInt8](data)
}
