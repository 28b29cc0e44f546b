#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The daemon's state directory: the database and the uploads in progress.
public struct StateDirectory: Sendable {
    public let path: String
    public var databasePath: String { path + "/dlad.sqlite" }

    /// Creates the directory (mode 0750) if it is missing and checks that it is a writable directory.
    public static func prepare(_ path: String) throws(StateDirectoryError) -> StateDirectory {
        let manager = FileManager.default
        if let attributes = try? manager.attributesOfItem(atPath: path) {
            guard attributes[.type] as? FileAttributeType == .typeDirectory else {
                throw .notADirectory(path)
            }
        } else {
            do {
                try manager.createDirectory(atPath: path, withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o750])
            } catch {
                throw .cannotCreate(path, reason: Self.reason(error))
            }
        }
        guard manager.isWritableFile(atPath: path) else { throw .notWritable(path) }
        return StateDirectory(path: path)
    }

    /// The folder uploads stream into (mode 0700); leftovers of a killed daemon are removed,
    /// since an upload is only ever half of a push that was never acknowledged.
    public static func prepareUploads(_ path: String) throws(StateDirectoryError) {
        let manager = FileManager.default
        if let names = try? manager.contentsOfDirectory(atPath: path) {
            for name in names where name.hasPrefix("upload-") { try? manager.removeItem(atPath: path + "/" + name) }
            return
        }
        do {
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .cannotCreate(path, reason: Self.reason(error))
        }
    }

    /// The operating system's words for a failed file operation (e.g. "No such file or
    /// directory"), not Foundation's nested error dump.
    private static func reason(_ error: any Error) -> String {
        if let posix = (error as? CocoaError)?.userInfo["NSUnderlyingError"] as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        return "\(error)"
    }
}

public enum StateDirectoryError: Error, CustomStringConvertible, Equatable {
    case notADirectory(String)
    case cannotCreate(String, reason: String)
    case notWritable(String)

    public var description: String {
        switch self {
        case .notADirectory(let path): "state directory \(path): exists but is not a directory"
        case .cannotCreate(let path, let reason): "state directory \(path): cannot create it: \(reason)"
        case .notWritable(let path): "state directory \(path): not writable by this user"
        }
    }
}
