import Foundation
import Testing

/// NVIDIA's NVDLA regression files, read in place from `../shared/nvdla-regression/` beside the
/// repository (see its README); tests that need them are skipped, saying so, when it is absent.
enum RegressionFiles {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = repository.deletingLastPathComponent().appendingPathComponent("shared/nvdla-regression")
    static let isAvailable = FileManager.default.fileExists(atPath: directory.appendingPathComponent("flatbufs").path)
    static let absent: Comment = "NVIDIA's regression files are not at \(directory.path)"

    /// Every loadable, by its path relative to the folder (`flatbufs/kmd/CONV/CONV_D_L0_0_fbuf`).
    static func loadablePaths() throws -> [String] {
        let root = directory.appendingPathComponent("flatbufs")
        let enumerator = try #require(FileManager.default.enumerator(atPath: root.path))
        return enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix("_fbuf") }.map { "flatbufs/" + $0 }.sorted()
    }

    /// Every golden output folder (`golden/CONV_D_L0_0_6d2d02/dla`).
    static func goldenFolders() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("golden").path)
            .sorted().map { "golden/\($0)/dla" }
    }

    static func bytes(_ relativePath: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(relativePath)))
    }

    /// The loadable a golden folder belongs to: `golden/CDP_L0_0_small_4531af/dla` →
    /// `flatbufs/kmd/CDP/CDP_L0_0_small_fbuf` (the folder's name less its hash suffix).
    static func loadablePath(ofGolden folder: String) throws -> String {
        let test = String(folder.split(separator: "/")[1].split(separator: "_").dropLast().joined(separator: "_"))
        let name = test + "_fbuf"
        return try #require(try loadablePaths().first { $0.hasSuffix("/" + name) }, "no loadable for \(folder)")
    }
}

/// Little-endian bytes at chosen offsets, for hand-made flatbuffers.
struct HandBuffer {
    var bytes: [UInt8]

    init(count: Int) { bytes = [UInt8](repeating: 0, count: count) }

    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for index in 0..<MemoryLayout<T>.size {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
        }
    }

    mutating func put(_ text: String, at offset: Int) {
        put(UInt32(text.utf8.count), at: offset)
        bytes.replaceSubrange(offset + 4..<offset + 4 + text.utf8.count, with: Array(text.utf8))
    }
}
