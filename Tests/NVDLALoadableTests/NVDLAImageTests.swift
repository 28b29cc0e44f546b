import Crypto
import Foundation
@testable import NVDLALoadable
import Testing

/// NVIDIA's golden `.dimg` outputs: read, written back byte for byte, checked against their MD5,
/// and their headers derived from the loadables' output tensors as NVIDIA's runtime derives them.
@Suite(.enabled(if: RegressionFiles.isAvailable, RegressionFiles.absent))
struct GoldenImageTests {
    static func md5(_ bytes: [UInt8]) -> String {
        Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    @Test func everyGoldenRoundTripsAndMatchesItsMD5() throws {
        let folders = try RegressionFiles.goldenFolders()
        #expect(folders.count == 15)
        for folder in folders {
            let bytes = try RegressionFiles.bytes(folder + "/o_000000.dimg")
            let lead = String(decoding: try RegressionFiles.bytes(folder + "/lead.md5"), as: UTF8.self)
            let expectedMD5 = try #require(lead.split(separator: " ").first.map(String.init))
            let image = try NVDLAImage(bytes: bytes, numbering: .original)
            let written = image.serialized()
            #expect(written == bytes, "\(folder)")
            #expect(Self.md5(written) == expectedMD5, "\(folder)")
            // Unpacking into the surface and packing it again (as the runtime dumps) is the identity.
            let repacked = try NVDLAImage(metadata: image.metadata, surface: image.surface(), numbering: .original)
            #expect(repacked.serialized() == bytes, "\(folder)")
        }
    }

    /// `Tensor2DIMG` of each loadable's output tensor gives exactly the golden's header.
    @Test func goldenHeadersFollowFromTheOutputTensors() throws {
        for folder in try RegressionFiles.goldenFolders() {
            let image = try NVDLAImage(bytes: RegressionFiles.bytes(folder + "/o_000000.dimg"), numbering: .original)
            let loadable = try NVDLALoadableFile(bytes: RegressionFiles.bytes(try RegressionFiles.loadablePath(ofGolden: folder)))
            let output = try #require(loadable.outputs.first, "\(folder)")
            #expect(try NVDLAImage.Metadata(outputTensor: output.tensor, numbering: .original) == image.metadata, "\(folder)")
        }
    }

    @Test func goldenFormatsByUnit() throws {
        func format(_ folder: String) throws -> NVDLAImage.Format {
            try NVDLAImage(bytes: RegressionFiles.bytes("golden/\(folder)/dla/o_000000.dimg"), numbering: .original).format
        }
        #expect(try format("CONV_D_L0_0_6d2d02") == .int16Atoms16)
        #expect(try format("CONV_D_L0_0_small_3c77f6") == .int8Atoms32)
        #expect(try format("NN_L0_0_9521de") == .float16Atoms16)
        // Read with the later numbering, code 41 means INT8 in 8-byte atoms: the data no longer fits.
        let conv = try RegressionFiles.bytes("golden/CONV_D_L0_0_6d2d02/dla/o_000000.dimg")
        #expect(throws: NVDLALoadableError.self) { try NVDLAImage(bytes: conv, numbering: .current) }
    }
}

/// `.dimg` layout, packing and strictness on hand-made images.
@Suite struct NVDLAImageTests {
    /// A header for `format` with the given geometry, followed by `data`.
    static func file(code: UInt32, w: UInt32, h: UInt32, c: UInt32, lineStride: UInt32, surfaceStride: UInt32, size: UInt32, data: [UInt8]) -> [UInt8] {
        NVDLAImage.magic + [0, code, w, h, c, lineStride, surfaceStride, size].flatMap { word in
            (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) }
        } + data
    }

    @Test func atomsAreAddressedAsNVIDIAsGetAddrOffset() throws {
        // 40 INT8 channels in 32-byte atoms, 2×1: channel 33 of column 1 lies in the second
        // surface (surface stride 128), at 32 bytes per column, 1 byte in.
        let metadata = NVDLAImage.Metadata(formatCode: 40, width: 2, height: 1, channel: 40, lineStride: 64, surfaceStride: 128, size: 256)
        var surface = [UInt8](repeating: 0, count: 256)
        for c in 0..<40 { for x in 0..<2 { surface[(c / 32) * 128 + x * 32 + c % 32] = UInt8(c * 2 + x) } }
        let image = try NVDLAImage(metadata: metadata, surface: surface, numbering: .original)
        #expect(image.data == (0..<80).map { UInt8($0) }, "packed channel by channel, then row, then column")
        #expect(image.element(c: 33, y: 0, x: 1) == [67])
        #expect(image.surface() == surface)
        #expect(try NVDLAImage(bytes: image.serialized(), numbering: .original) == image)
    }

    @Test func numberingsDifferFromCode41On() {
        #expect(NVDLAImage.Format(code: 41, numbering: .original) == .int16Atoms16)
        #expect(NVDLAImage.Format(code: 41, numbering: .current) == .int8Atoms8)
        #expect(NVDLAImage.Format(code: 47, numbering: .current) == .b8g8r8)
        #expect(NVDLAImage.Format(code: 47, numbering: .original) == nil)
        #expect(NVDLAImage.Format(code: 40, numbering: .original) == NVDLAImage.Format(code: 40, numbering: .current))
        for numbering in NVDLAImage.FormatNumbering.allCases {
            for format in NVDLAImage.Format.allCases {
                if let code = format.code(numbering) { #expect(NVDLAImage.Format(code: code, numbering: numbering) == format) }
            }
        }
    }

    /// The runtime's "stable hash" as its C++ does it: FP16 32768.0 → +0, NaN → 31744.0; -0 stays.
    @Test func floatingPointElementsAreNormalizedAsNVIDIAsCodeDoes() throws {
        let halves: [UInt16] = [0x7800, 0x7E00, 0xFC01, 0x8000, 0x3C00, 0xF800]
        let surface = halves.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } + [UInt8](repeating: 0, count: 20)
        let metadata = NVDLAImage.Metadata(formatCode: 42, width: 1, height: 1, channel: 6, lineStride: 32, surfaceStride: 32, size: 32)
        let image = try NVDLAImage(metadata: metadata, surface: surface, numbering: .original)
        let packed = stride(from: 0, to: image.data.count, by: 2).map { UInt16(image.data[$0]) | UInt16(image.data[$0 + 1]) << 8 }
        #expect(packed == [0x0000, 0x77C0, 0x77C0, 0x8000, 0x3C00, 0xF800])

        let floats: [Float] = [2_147_483_648, .nan, -0.0, 1.5]
        let surface32 = floats.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt32($0))) } }
        let planar = NVDLAImage.Metadata(formatCode: 43, width: 1, height: 1, channel: 4, lineStride: 4, surfaceStride: 4, size: 16)
        let image32 = try NVDLAImage(metadata: planar, surface: surface32, numbering: .original)
        let packed32 = stride(from: 0, to: 16, by: 4).map { i in (0..<4).reduce(UInt32(0)) { $0 | UInt32(image32.data[i + $1]) << (8 * UInt32($1)) } }
        #expect(packed32 == [0, Float(2_143_289_344).bitPattern, (-0.0 as Float).bitPattern, (1.5 as Float).bitPattern])

        let integers = NVDLAImage.Metadata(formatCode: 41, width: 1, height: 1, channel: 6, lineStride: 32, surfaceStride: 32, size: 32)
        #expect(try NVDLAImage(metadata: integers, surface: surface, numbering: .original).data == Array(surface.prefix(12)), "INT16 is copied")
    }

    @Test(arguments: [
        ("short header", Array(Self.file(code: 40, w: 1, h: 1, c: 1, lineStride: 32, surfaceStride: 32, size: 32, data: [7]).prefix(20)), "needs 36 bytes"),
        ("bad magic", [UInt8](repeating: 0x41, count: 37), "does not start with \"DIMG\""),
        ("version", Array(Self.file(code: 40, w: 1, h: 1, c: 1, lineStride: 32, surfaceStride: 32, size: 32, data: [7]).enumerated().map { $0.offset == 4 ? 1 : $0.element }), "version 1"),
        ("unknown format", Self.file(code: 99, w: 1, h: 1, c: 1, lineStride: 32, surfaceStride: 32, size: 32, data: [7]), "surface format 99"),
        ("format without layout", Self.file(code: 14, w: 1, h: 1, c: 1, lineStride: 32, surfaceStride: 32, size: 32, data: [7]), "surface format 14"),
        ("short data", Self.file(code: 40, w: 2, h: 1, c: 1, lineStride: 64, surfaceStride: 64, size: 64, data: [7]), "need 2 bytes, the file has 1"),
        ("trailing data", Self.file(code: 40, w: 1, h: 1, c: 1, lineStride: 32, surfaceStride: 32, size: 32, data: [7, 8]), "need 1 bytes, the file has 2"),
        ("element outside", Self.file(code: 40, w: 2, h: 1, c: 1, lineStride: 64, surfaceStride: 64, size: 32, data: [7, 8]), "element (c 0, y 0, x 1) lies outside the 32-byte surface"),
        ("too many elements", Self.file(code: 37, w: 0xFFFF_FFFF, h: 0xFFFF_FFFF, c: 0xFFFF_FFFF, lineStride: 0, surfaceStride: 0, size: 64, data: []), "do not fit in a 64-byte surface"),
        ("T_R8 channels", Self.file(code: 0, w: 1, h: 1, c: 2, lineStride: 1, surfaceStride: 1, size: 8, data: [1, 2]), "T_R8 has one channel"),
        ("huge surface", Self.file(code: 40, w: 1, h: 1, c: 1, lineStride: 32, surfaceStride: 32, size: 0xFFFF_0000, data: [7]), "exceeds the limit"),
    ] as [(String, [UInt8], String)])
    func malformedImagesAreRefusedClearly(what: String, bytes: [UInt8], message: String) {
        let error = #expect(throws: NVDLALoadableError.self, "\(what)") { try NVDLAImage(bytes: bytes, numbering: .original) }
        #expect(error?.description.contains(message) == true, "\(what): \(String(describing: error))")
    }

    /// Found by FuzzNVDLALoadable: no elements (a zero dimension) must not loop over the other
    /// dimensions, four billion channels here.
    @Test func emptyImagesReadAtOnce() throws {
        let bytes = Self.file(code: 40, w: 0, h: 1, c: 0xFFFF_FFFF, lineStride: 32, surfaceStride: 32, size: 32, data: [])
        let image = try NVDLAImage(bytes: bytes, numbering: .original)
        #expect(image.data.isEmpty && image.serialized() == bytes)
        #expect(image.surface() == [UInt8](repeating: 0, count: 32))
    }

    @Test func surfaceMustMatchTheSize() {
        let metadata = NVDLAImage.Metadata(formatCode: 40, width: 1, height: 1, channel: 1, lineStride: 32, surfaceStride: 32, size: 32)
        let error = #expect(throws: NVDLALoadableError.self) { try NVDLAImage(metadata: metadata, surface: [0, 1], numbering: .original) }
        #expect(error?.description == "dimg surface: the surface has 2 bytes, the metadata says 32")
    }
}
