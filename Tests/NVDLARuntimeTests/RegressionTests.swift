import Crypto
import DLAEngine
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
