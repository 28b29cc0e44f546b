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
    /// these images; the zero-input golden (RegressionTests) checks the arithmetic bit for bit, and
    /// an independent numpy reference gives the same answers (issue 15: the network's, not ours).
    static let measured: [(image: String, digit: Int)] = [
        ("one", 1), ("two", 7), ("three", 3), ("four", 4), ("five", 5), ("six", 5), ("seven", 7), ("eight", 3), ("nine", 3),
    ]

    /// FP16 bits of the ten probabilities for each image with its pixels scaled by 1/256 (Caffe's
    /// LeNet input scale), where the softmax does not saturate and every layer shows through. From
    /// tools/nvdla/lenet_reference.py, a numpy LeNet that decodes the loadable from NVIDIA's sources
    /// alone (issue 15), not from this runtime: `lenet_reference.py NN_L0_0_fbuf x.npy` with x the
    /// image / 256.
    static let independentReference: [(image: String, probabilities: [UInt16])] = [
        ("one", [0x0180, 0x3BBF, 0x0737, 0x14CB, 0x1F7F, 0x1C68, 0x03E2, 0x246D, 0x001A, 0x15A6]),
        ("two", [0x172F, 0x3290, 0x2F9C, 0x2F73, 0x223E, 0x32BF, 0x1A61, 0x353E, 0x0C8E, 0x1BD8]),
        ("three", [0x0325, 0x2046, 0x17FC, 0x3A42, 0x1C1E, 0x207B, 0x0359, 0x30CC, 0x063E, 0x29B4]),
        ("four", [0x15E7, 0x328E, 0x2402, 0x1984, 0x38C1, 0x30B2, 0x213A, 0x25A5, 0x0141, 0x18B4]),
        ("five", [0x0043, 0x12B5, 0x008E, 0x1D32, 0x03F0, 0x3BEB, 0x02A2, 0x1A01, 0x0074, 0x1526]),
        ("six", [0x0FC2, 0x1CD2, 0x0368, 0x2748, 0x15A3, 0x3B47, 0x1A78, 0x1A4C, 0x0AFB, 0x2A47]),
        ("seven", [0x002E, 0x22FC, 0x018F, 0x1A11, 0x034D, 0x0559, 0x0004, 0x3BDD, 0x0007, 0x0CAD]),
        ("eight", [0x0E4C, 0x3533, 0x1D4B, 0x3726, 0x2761, 0x2CF1, 0x10FE, 0x2DEE, 0x15A6, 0x2596]),
        ("nine", [0x01FA, 0x369A, 0x14DE, 0x3672, 0x2457, 0x24A1, 0x0356, 0x3084, 0x00F1, 0x1F44]),
    ]

    /// Runs NN_L0_0 on a digit image whose pixels `convert` turns into input values; returns the
    /// output's FP16 bits.
    static func probabilityBits(_ image: String, convert: (UInt8) -> Float) throws -> [UInt16] {
        let loadable = try NVDLALoadableFile(bytes: try RegressionTests.bytes("flatbufs/kmd/NN/NN_L0_0_fbuf"))
        let pgm = try PGMImage(bytes: try RegressionTests.bytes("images/digits/\(image).pgm"))
        let input = try NVDLABoundTensor(loadable.inputs[0].tensor, profile: .nvFull)
        var runner = NVDLALoadableRunner(loadable)
        try runner.bindInput(0, bytes: try input.bytes(of: pgm.pixels.map { Int32(FP16.encode(convert($0))) }))
        _ = try runner.run(profile: .nvFull)
        let output = try NVDLABoundTensor(loadable.outputs[0].tensor, profile: .nvFull)
        return output.elements(of: try runner.outputBytes(0)).map { UInt16(truncatingIfNeeded: $0) }
    }

    @Test(arguments: measured.map(\.image))
    func classifiesAsMeasured(_ image: String) throws {
        let probabilities = try Self.probabilityBits(image) { Float($0) }.map(FP16.decode)
        let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
        #expect(best == Self.measured.first { $0.image == image }!.digit)
        #expect(probabilities[best] >= 0.99)
        #expect(abs(probabilities.reduce(0, +) - 1) < 0.01)
    }

    @Test(arguments: independentReference.map(\.image))
    func matchesIndependentReferenceOnScaledDigits(_ image: String) throws {
        let bits = try Self.probabilityBits(image) { Float($0) / 256 }
        let expected = Self.independentReference.first { $0.image == image }!.probabilities
        #expect(bits == expected)
    }
}
