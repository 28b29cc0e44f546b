import Foundation
import Testing

/// `dlactl nvdla-run` on NVIDIA's regression loadables, as a user runs it.
struct DLACtlNVDLARunTests {
    static let regression = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/nvdla-regression").path

    /// The profile comes from the file name (…_small: nv_small) and the .dimg equals the golden.
    @Test func writesTheGoldenDimgAndReportsCycles() throws {
        let directory = try TemporaryDirectory()
        let output = directory.file("o.dimg")
        let result = try Executables.run("dlactl", ["nvdla-run", Self.regression + "/flatbufs/kmd/CONV/CONV_D_L0_0_small_fbuf",
                                                    "--output", output, "--stats"])
        #expect(result.status == 0, "\(result.stderr)")
        let golden = try Data(contentsOf: URL(fileURLWithPath: Self.regression + "/golden/CONV_D_L0_0_small_3c77f6/dla/o_000000.dimg"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == golden)
        #expect(result.stdout.contains("nv_small") && result.stdout.contains("CONV INT8 3×3 128→32"))
    }

    /// `dlactl inspect` lists each DLA task's firmware operations and their dependency graph.
    @Test func inspectListsTheFirmwareOperations() throws {
        let result = try Executables.run("dlactl", ["inspect", Self.regression + "/flatbufs/kmd/CONV/CONV_D_L0_0_fbuf"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("task 0 operations (firmware interface 0.10.0, 2 operations, 0 LUTs)"))
        #expect(lines.contains { $0.hasPrefix("0  CONV  direct INT16 3×3 stride 1×1 pad 1,1  128×8×8 @5  on the fly") })
        #expect(lines.contains { $0.hasPrefix("1  SDP   INT16→INT16 X1 add/perLayer relu") && $0.hasSuffix("0             -") })
    }

    @Test func refusesWhatItCannotRunInOneLine() throws {
        let directory = try TemporaryDirectory()
        let bdma = try Executables.run("dlactl", ["nvdla-run", Self.regression + "/flatbufs/kmd/BDMA/BDMA_L0_0_fbuf",
                                                  "--output", directory.file("o.dimg"), "--profile", "nv_large"])
        #expect(bdma.status == 1)
        #expect(bdma.stderr == "error: BDMA operation 0: BDMA: profile nv_large lacks bridge DMA (BDMA)\n")
        #expect(!FileManager.default.fileExists(atPath: directory.file("o.dimg")))
        let notLoadable = directory.file("junk")
        try Data("not a loadable".utf8).write(to: URL(fileURLWithPath: notLoadable))
        let junk = try Executables.run("dlactl", ["nvdla-run", notLoadable, "--output", directory.file("o.npy")])
        #expect(junk.status == 1 && junk.stderr.hasPrefix("error: ") && junk.stderr.filter { $0 == "\n" }.count == 1)
        let usage = try Executables.run("dlactl", ["nvdla-run", notLoadable, "--output", directory.file("o.txt")])
        #expect(usage.status == 64)
    }
}
