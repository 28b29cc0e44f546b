import Crypto
import DLAEngine
import DLANumerics
import Foundation
import NVDLALoadable
import NVDLARuntime
import Testing

/// One test of NVIDIA's kmd regression: its loadable, the profile its suffix names, its golden.
struct RegressionCase: CustomStringConvertible, Sendable {
    let test: String
    let unit: String
    let golden: String
    var description: String { test }

    var profile: HardwareProfile {
        test.hasSuffix("_small") ? .nvSmall : test.hasSuffix("_large") ? .nvLarge : .nvFull
    }

    static let all: [RegressionCase] = [
        RegressionCase(test: "BDMA_L0_0", unit: "BDMA", golden: "BDMA_L0_0_76a9a4"),
        RegressionCase(test: "SDP_X1_L0_0", unit: "SDP", golden: "SDP_X1_L0_0_b9bf63"),
        RegressionCase(test: "SDP_X1_L0_0_large", unit: "SDP", golden: "SDP_X1_L0_0_large_4486c3"),
        RegressionCase(test: "SDP_X1_L0_0_small", unit: "SDP", golden: "SDP_X1_L0_0_small_c9894d"),
        RegressionCase(test: "PDP_L0_0", unit: "PDP", golden: "PDP_L0_0_e21636"),
        RegressionCase(test: "PDP_L0_0_large", unit: "PDP", golden: "PDP_L0_0_large_a57d22"),
        RegressionCase(test: "PDP_L0_0_small", unit: "PDP", golden: "PDP_L0_0_small_fbdf76"),
        RegressionCase(test: "RBK_L0_0", unit: "RBK", golden: "RBK_L0_0_6dbb5a"),
        RegressionCase(test: "CONV_D_L0_0", unit: "CONV", golden: "CONV_D_L0_0_6d2d02"),
        RegressionCase(test: "CONV_D_L0_0_large", unit: "CONV", golden: "CONV_D_L0_0_large_f394b6"),
        RegressionCase(test: "CONV_D_L0_0_small", unit: "CONV", golden: "CONV_D_L0_0_small_3c77f6"),
        RegressionCase(test: "CDP_L0_0", unit: "CDP", golden: "CDP_L0_0_66cb25"),
        RegressionCase(test: "CDP_L0_0_large", unit: "CDP", golden: "CDP_L0_0_large_fe3167"),
        RegressionCase(test: "CDP_L0_0_small", unit: "CDP", golden: "CDP_L0_0_small_4531af"),
        // NVIDIA's regression client sends no image ("No img to run", regression/scripts/
        // dla_client.py): the input memory stays zero, as it does here without --input.
        RegressionCase(test: "NN_L0_0", unit: "NN", golden: "NN_L0_0_9521de"),
    ]
}

/// NVIDIA's kmd regression (../shared/nvdla-regression from the repository root): each loadable
/// runs on its profile and its output, dumped as NVIDIA's runtime dumps it, must equal the golden
/// `.dimg` byte for byte and have the MD5 in `lead.md5`.
struct RegressionTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/nvdla-regression")

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }

    /// Runs a case and returns its `.dimg` bytes.
    static func run(_ c: RegressionCase) throws -> (image: [UInt8], reports: [NVDLARunReport]) {
        let loadable = try NVDLALoadableFile(bytes: try bytes("flatbufs/kmd/\(c.unit)/\(c.test)_fbuf"))
        var runner = NVDLALoadableRunner(loadable)
        let reports = try runner.run(profile: c.profile)
        let metadata = try NVDLAImage.Metadata(outputTensor: loadable.outputs[0].tensor, numbering: .original)
        let image = try NVDLAImage(metadata: metadata, surface: try runner.outputBytes(0), numbering: .original)
        return (image.serialized(), reports)
    }

    @Test(arguments: RegressionCase.all)
    func matchesGolden(_ c: RegressionCase) throws {
        let (image, reports) = try Self.run(c)
        let golden = try Self.bytes("golden/\(c.golden)/dla/o_000000.dimg")
        let md5Line = String(decoding: try Self.bytes("golden/\(c.golden)/dla/lead.md5"), as: UTF8.self)
        let expectedMD5 = String(md5Line.prefix(while: { !$0.isWhitespace }))
        let md5 = Insecure.MD5.hash(data: image).map { String(format: "%02x", $0) }.joined()
        #expect(image.count == golden.count)
        let differing = (0..<min(image.count, golden.count)).filter { image[$0] != golden[$0] }
        #expect(differing.isEmpty, "\(differing.count) bytes differ, first at \(differing.first ?? -1)")
        #expect(md5 == expectedMD5)
        #expect(!reports.isEmpty && reports.allSatisfy { $0.total.hardwareCycles > 0 })
    }
}

/// NVIDIA's MNIST network (`NN_L0_0`: an EMU power task, an FP16 LeNet on the DLA, an EMU softmax)
/// on the regression's digit images, converted as NVIDIA's runtime test converts a PGM by default
/// (FP16 of the raw pixel: mean 0, normalization 1). The images are dark digits on white.
struct MNISTDigitTests {
    /// Measured 2026-12-07: five of the nine images come out as their names; every answer has
    /// probability ≥ 0.99, so no FP16 rounding of ours decides them. NVIDIA publishes no golden for
    /// these images; the zero-input golden (RegressionTests) checks the arithmetic bit for bit.
    static let measured: [(image: String, digit: Int)] = [
        ("one", 1), ("two", 7), ("three", 3), ("four", 4), ("five", 5), ("six", 5), ("seven", 7), ("eight", 3), ("nine", 3),
    ]

    @Test(arguments: measured.map(\.image))
    func classifiesAsMeasured(_ image: String) throws {
        let loadable = try NVDLALoadableFile(bytes: try RegressionTests.bytes("flatbufs/kmd/NN/NN_L0_0_fbuf"))
        let pgm = try PGMImage(bytes: try RegressionTests.bytes("images/digits/\(image).pgm"))
        let input = try NVDLABoundTensor(loadable.inputs[0].tensor, profile: .nvFull)
        var runner = NVDLALoadableRunner(loadable)
        try runner.bindInput(0, bytes: try input.bytes(of: try input.values(ofPixels: pgm.pixels, width: pgm.width, height: pgm.height)))
        _ = try runner.run(profile: .nvFull)
        let output = try NVDLABoundTensor(loadable.outputs[0].tensor, profile: .nvFull)
        let probabilities = output.elements(of: try runner.outputBytes(0)).map { FP16.decode(UInt16(truncatingIfNeeded: $0)) }
        let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
        #expect(best == Self.measured.first { $0.image == image }!.digit)
        #expect(probabilities[best] >= 0.99)
        #expect(abs(probabilities.reduce(0, +) - 1) < 0.01)
    }
}
