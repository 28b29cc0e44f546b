import Foundation
import Testing

/// NVIDIA's NVDLA regression files, read in place from `../shared/nvdla-regression/` beside the repository.
enum NVDLARegression {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/nvdla-regression").path
    static let isAvailable = FileManager.default.fileExists(atPath: directory + "/flatbufs")

    static func loadable(_ unit: String, _ name: String) -> String { "\(directory)/flatbufs/kmd/\(unit)/\(name)_fbuf" }
}

/// `dlactl inspect` of NVIDIA's NVDLA regression loadables.
@Suite(.enabled(if: NVDLARegression.isAvailable, "NVIDIA's regression files are not at \(NVDLARegression.directory)"))
struct DLACtlInspectLoadableTests {
    static func loadable(_ unit: String, _ name: String) -> String { NVDLARegression.loadable(unit, name) }

    /// The table under the section titled `title` (or `title (…)`): its rows, split into columns.
    static func rows(of title: String, in text: String) throws -> [[Substring]] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0 == title || $0.hasPrefix(title + " (") }, "no section \(title)")
        return lines[(start + 3)...].prefix { !$0.isEmpty }.map { $0.split(separator: " ") }
    }

    @Test func convolutionTestShowsItsTaskTensorsAndMemories() throws {
        let result = try Executables.run("dlactl", ["inspect", Self.loadable("CONV", "CONV_D_L0_0")])
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        #expect(text.hasPrefix("NVDLA loadable  version 0.7.0  93268 bytes\n"))
        #expect(text.contains("output 0  m6_SDPDst_i6: INT16 1×32×8×8 FEATURE NCHW, line stride 256, surface stride 2048, 4096 bytes, memory 6"))
        #expect(!text.contains("\ninput "), "the convolution test's input is a blob, not a bound tensor")
        #expect(try Self.rows(of: "tasks", in: text) == [["0", "DLA1", "0", "0-6", "-", "0"]])
        #expect(try Self.rows(of: "submit list", in: text) == [["0", "0"]])
        let memories = try Self.rows(of: "memories", in: text)
        #expect(memories.count == 7)
        #expect(memories[4] == ["4", "SYSTEM", "ALLOC|SET", "73728", "0", "-", "-", "m4_CONVWgt_i4"])
        #expect(memories[6] == ["6", "SYSTEM", "ALLOC|OUTPUT", "4096", "0", "out", "0", "0", "-"])
        let tensors = try Self.rows(of: "tensors", in: text)
        #expect(tensors == [["0", "m6_SDPDst_i6", "6", "0", "4096", "1×32×8×8", "INT16", "NCHW", "FEATURE", "FEATURE", "2,256,2048"]])
        let blobs = try Self.rows(of: "blobs", in: text)
        #expect(blobs.map { $0[0] } == ["m0_NetworkDesc_i0", "m1_OpList_i1", "m2_SurfList_i2", "m3_DEPGraph_i3", "m4_CONVWgt_i4", "m5_CONVSrc_i5"])
        #expect(blobs[4] == ["m4_CONVWgt_i4", "73728", "NONE", "0", "0.10.0"])
        #expect(!text.contains("relocations"))
    }

    @Test func mnistNetworkShowsItsInputOutputAndEvents() throws {
        let result = try Executables.run("dlactl", ["inspect", Self.loadable("NN", "NN_L0_0")])
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        #expect(text.contains("input 0  data: HALF 1×1×28×28 FEATURE NCxHWx, line stride 896, surface stride 25088, 25088 bytes, memory 2"))
        #expect(text.contains("output 0  prob: HALF 1×10×1×1 FEATURE NCxHWx, line stride 32, surface stride 32, 32 bytes, memory 12"))
        #expect(try Self.rows(of: "tasks", in: text) == [
            ["0", "EMU1", "any", "19,1-36", "-", "0"],
            ["1", "DLA1", "any", "25,1-18,25-30", "1", "2"],
            ["2", "EMU1", "any", "31,1-36", "3", "4"],
        ])
        #expect(try Self.rows(of: "events", in: text).map { $0[1] } == ["SIGNAL", "WAIT", "SIGNAL", "WAIT", "SIGNAL"])
        #expect(try Self.rows(of: "relocations", in: text).count == 4)
    }

    @Test func jsonListsEverything() throws {
        let result = try Executables.run("dlactl", ["inspect", Self.loadable("NN", "NN_L0_0"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["kind"] as? String == "nvdla-loadable")
        #expect(json["version"] as? String == "0.7.0")
        #expect((json["tasks"] as? [Any])?.count == 3)
        #expect((json["memories"] as? [Any])?.count == 37)
        #expect((json["blobs"] as? [Any])?.count == 19)
        let output = try #require((json["outputs"] as? [[String: Any]])?.first)
        #expect(output["name"] as? String == "prob" && output["memoryID"] as? Int == 12)
        let tensor = try #require((json["tensors"] as? [[String: Any]])?.first)
        #expect(tensor["dataType"] as? String == "HALF" && tensor["h"] as? Int == 28)
    }

    @Test func corruptLoadableIsOneClearError() throws {
        let directory = try TemporaryDirectory()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: Self.loadable("PDP", "PDP_L0_0")))
        bytes.removeLast(bytes.count / 2)
        let path = directory.file("truncated_fbuf")
        try bytes.write(to: URL(fileURLWithPath: path))
        let result = try Executables.run("dlactl", ["inspect", path])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: \(path): NVDLA loadable: loadable."))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stdout.isEmpty)

        let keyed = try Executables.run("dlactl", ["inspect", Self.loadable("PDP", "PDP_L0_0"), "--trusted-key", "/nonexistent.pub"])
        #expect(keyed.status == 1)
        #expect(keyed.stderr.contains("--trusted-key applies to .dla models"))
    }
}
