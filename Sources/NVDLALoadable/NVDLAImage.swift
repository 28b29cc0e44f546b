/// A `.dimg` image as NVIDIA's NVDLA runtime test application dumps its output
/// (nvdla/sw `umd/apps/runtime/DlaImage.cpp`, `NvDlaImage::serialize`), read and written byte
/// for byte.
///
/// Layout (little-endian): `"DIMG"`, a 32-bit version (0), seven 32-bit metadata words (surface
/// format, width, height, channel, line stride, surface stride, size), then the packed elements:
/// for each channel, row and column (in that order) the element's bytes, taken from the surface
/// at the format's address (`NvDlaImage::getAddrOffset`). Strides and size describe the surface
/// in DLA memory, not the file; `surface()` rebuilds it, `init(metadata:surface:numbering:)`
/// packs one.
///
/// Two numberings of the surface format exist under the same version word: nvdla/sw commit
/// 537e0e8 (April 2019, "runtime: Add support for INT8") inserted `D_F8_CxHWx_x8_I` at 41 and
/// shifted the formats after it. NVIDIA's regression goldens (2017–2018) use the original one,
/// so every entry point takes the numbering explicitly.
///
/// Strict where NVIDIA's reader is lenient: the data must be exactly the packed elements (no
/// short or trailing bytes), every element must lie inside `size` (addresses computed without
/// NVIDIA's 32-bit wrap-around), the elements must fit in the surface (width × height × channel
/// × bytes per element ≤ size, which bounds the work by the size), and formats without an
/// address layout in `DlaImage.cpp` are refused as NVIDIA's `packData` refuses them.
public struct NVDLAImage: Sendable, Hashable {
    /// Which `PixelFormat` numbering the format word uses (see the type's documentation).
    public enum FormatNumbering: String, Sendable, CaseIterable {
        /// Before nvdla/sw 537e0e8: the numbering of NVIDIA's regression goldens.
        case original
        /// Since nvdla/sw 537e0e8 (adds `D_F8_CxHWx_x8_I` for nv_small's 8-byte atoms).
        case current
    }

    /// The surface formats `DlaImage.cpp` can address, by NVIDIA's names.
    public enum Format: String, Sendable, CaseIterable {
        case r8 = "T_R8"
        case a8b8g8r8 = "T_A8B8G8R8"
        case a16b16g16r16Float = "T_A16B16G16R16_F"
        case r8g8b8 = "T_R8G8B8"
        case b8g8r8 = "T_B8G8R8"
        case int8CHW = "D_F8_CHW_I"
        case int16CHW = "D_F16_CHW_I"
        case float16CHW = "D_F16_CHW_F"
        case int8Atoms32 = "D_F8_CxHWx_x32_I"
        case int8Atoms8 = "D_F8_CxHWx_x8_I"
        case int16Atoms16 = "D_F16_CxHWx_x16_I"
        case float16Atoms16 = "D_F16_CxHWx_x16_F"
        case float32CHW = "D_F32_CHW_F"
        case float32Atoms8 = "D_F32_CxHWx_x8_F"

        /// `NvDlaImage::getBpe`.
        public var bytesPerElement: Int {
            switch self {
            case .r8, .a8b8g8r8, .r8g8b8, .b8g8r8, .int8CHW, .int8Atoms32, .int8Atoms8: 1
            case .a16b16g16r16Float, .int16CHW, .float16CHW, .int16Atoms16, .float16Atoms16: 2
            case .float32CHW, .float32Atoms8: 4
            }
        }

        /// IEEE formats, whose elements the runtime's "stable hash" normalizes when it packs them.
        public var isFloatingPoint: Bool {
            switch self {
            case .a16b16g16r16Float, .float16CHW, .float16Atoms16, .float32CHW, .float32Atoms8: true
            default: false
            }
        }

        /// The format word under `numbering`, `nil` where the format does not exist or has no
        /// address layout in that version of `DlaImage.cpp`.
        public func code(_ numbering: FormatNumbering) -> UInt32? {
            switch (self, numbering) {
            case (.r8, _): 0
            case (.a16b16g16r16Float, .current): 8
            case (.a8b8g8r8, .current): 13
            case (.a16b16g16r16Float, .original), (.a8b8g8r8, .original), (.int8Atoms8, .original): nil
            case (.int8CHW, _): 37
            case (.int16CHW, _): 38
            case (.float16CHW, _): 39
            case (.int8Atoms32, _): 40
            case (.int8Atoms8, .current): 41
            case (.int16Atoms16, .original): 41
            case (.int16Atoms16, .current): 42
            case (.float16Atoms16, .original): 42
            case (.float16Atoms16, .current): 43
            case (.float32CHW, .original): 43
            case (.float32CHW, .current): 44
            case (.float32Atoms8, .original): 44
            case (.float32Atoms8, .current): 45
            case (.r8g8b8, .original): 45
            case (.r8g8b8, .current): 46
            case (.b8g8r8, .original): 46
            case (.b8g8r8, .current): 47
            }
        }

        public init?(code: UInt32, numbering: FormatNumbering) {
            guard let format = Format.allCases.first(where: { $0.code(numbering) == code }) else { return nil }
            self = format
        }
    }

    /// `NvDlaImage::Metadata`, as stored.
    public struct Metadata: Sendable, Hashable {
        public var formatCode: UInt32
        public var width: UInt32
        public var height: UInt32
        public var channel: UInt32
        public var lineStride: UInt32
        public var surfaceStride: UInt32
        /// Bytes of the surface in DLA memory.
        public var size: UInt32

        public init(formatCode: UInt32, width: UInt32, height: UInt32, channel: UInt32, lineStride: UInt32, surfaceStride: UInt32, size: UInt32) {
            self.formatCode = formatCode
            self.width = width
            self.height = height
            self.channel = channel
            self.lineStride = lineStride
            self.surfaceStride = surfaceStride
            self.size = size
        }

        /// The metadata NVIDIA's runtime test gives the output image of `tensor` (`Tensor2DIMG`):
        /// feature data as INT8 32-byte atoms, INT16 or FP16 16-element atoms, or (current
        /// numbering only) INT8 8-byte atoms for `FEATURE_X8`; any other pixel format falls back
        /// to FP16 atoms as NVIDIA's code does. Dims, line and surface stride (strides 1 and 2)
        /// and size come from the descriptor.
        public init(outputTensor tensor: NVDLALoadableFile.TensorDescriptor, numbering: FormatNumbering) throws(NVDLALoadableError) {
            let field = "tensor '\(tensor.name)'"
            let format: Format
            switch (tensor.pixelFormat, tensor.dataType) {
            case (.feature, .half): format = .float16Atoms16
            case (.feature, .int16): format = .int16Atoms16
            case (.feature, .int8): format = .int8Atoms32
            case (.feature, _):
                throw NVDLALoadableError(.unsupported, field: field, "NVIDIA's runtime has no .dimg format for feature data of type \(tensor.dataType)")
            case (.featureX8, .half) where numbering == .current: format = .float16Atoms16
            case (.featureX8, .int16) where numbering == .current: format = .int16Atoms16
            case (.featureX8, .int8) where numbering == .current: format = .int8Atoms8
            case (.featureX8, _) where numbering == .current:
                throw NVDLALoadableError(.unsupported, field: field, "NVIDIA's runtime has no .dimg format for FEATURE_X8 data of type \(tensor.dataType)")
            default: format = .float16Atoms16
            }
            guard tensor.size <= UInt64(UInt32.max) else {
                throw NVDLALoadableError(.unsupported, field: field, "size \(tensor.size) does not fit the .dimg's 32-bit size")
            }
            // Every format above exists in both numberings.
            self.init(formatCode: format.code(numbering) ?? 0, width: UInt32(tensor.w), height: UInt32(tensor.h), channel: UInt32(tensor.c),
                      lineStride: tensor.lineStride, surfaceStride: tensor.surfaceStride, size: UInt32(tensor.size))
        }
    }

    public static let magic: [UInt8] = Array("DIMG".utf8)
    /// `NvDlaImage::ms_version`.
    public static let version: UInt32 = 0
    static let headerSize = 36

    public let metadata: Metadata
    public let format: Format
    public let numbering: FormatNumbering
    /// The packed elements, channel by channel, row by row, `format.bytesPerElement` bytes each.
    public let data: [UInt8]

    /// Reads a `.dimg`. `maximumSurfaceBytes` bounds `metadata.size`, which `surface()` allocates.
    public init(bytes: [UInt8], numbering: FormatNumbering, maximumSurfaceBytes: Int = 1 << 30) throws(NVDLALoadableError) {
        guard bytes.count >= Self.headerSize else {
            throw NVDLALoadableError(.truncated, field: "dimg header", offset: bytes.count, "a .dimg header needs \(Self.headerSize) bytes, the file has \(bytes.count)")
        }
        guard Array(bytes[0..<4]) == Self.magic else {
            throw NVDLALoadableError(.malformed, field: "dimg header", offset: 0, "the file does not start with \"DIMG\"")
        }
        func word(_ index: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[4 * index + $1]) << (8 * UInt32($1)) }
        }
        guard word(1) == Self.version else {
            throw NVDLALoadableError(.unsupported, field: "dimg header", offset: 4, "version \(word(1)); NVIDIA's DlaImage knows only version \(Self.version)")
        }
        let metadata = Metadata(formatCode: word(2), width: word(3), height: word(4), channel: word(5),
                                lineStride: word(6), surfaceStride: word(7), size: word(8))
        try self.init(metadata: metadata, numbering: numbering, data: Array(bytes[Self.headerSize...]), maximumSurfaceBytes: maximumSurfaceBytes)
    }

    /// Packs a surface (`metadata.size` bytes of DLA memory) as NVIDIA's runtime dumps it
    /// (`DIMG2DIMGFile` with its stable hash on): integer elements are copied; IEEE elements go
    /// through NVIDIA's normalization as its code does it, not as its comments say. The C++
    /// compares the element with the integer 0x8000 (so the FP16 value 32768.0, bits 0x7800,
    /// becomes +0) and assigns the integer 0x7C00 to NaNs (the FP16 value 31744.0, bits 0x77C0);
    /// for FP32, 2147483648.0 becomes +0 and NaNs become the float nearest 0x7FBFFFFF.
    public init(metadata: Metadata, surface: [UInt8], numbering: FormatNumbering) throws(NVDLALoadableError) {
        let format = try Self.format(of: metadata, numbering)
        guard surface.count == Int(metadata.size) else {
            throw NVDLALoadableError(.invalid, field: "dimg surface", "the surface has \(surface.count) bytes, the metadata says \(metadata.size)")
        }
        let offsets = try Self.elementOffsets(metadata, format)
        var data: [UInt8] = []
        data.reserveCapacity(offsets.count * format.bytesPerElement)
        for offset in offsets {
            let element = surface[offset..<offset + format.bytesPerElement]
            if format.isFloatingPoint {
                data.append(contentsOf: Self.stableHashed(element))
            } else {
                data.append(contentsOf: element)
            }
        }
        try self.init(metadata: metadata, numbering: numbering, data: data, maximumSurfaceBytes: Int(Int32.max))
    }

    private init(metadata: Metadata, numbering: FormatNumbering, data: [UInt8], maximumSurfaceBytes: Int) throws(NVDLALoadableError) {
        let format = try Self.format(of: metadata, numbering)
        guard Int(metadata.size) <= min(maximumSurfaceBytes, Int(Int32.max)) else {
            throw NVDLALoadableError(.limitExceeded, field: "dimg metadata", offset: 32, "surface size \(metadata.size) exceeds the limit of \(min(maximumSurfaceBytes, Int(Int32.max))) bytes")
        }
        let expected = try Self.elementOffsets(metadata, format).count * format.bytesPerElement
        guard expected == data.count else {
            throw NVDLALoadableError(.invalid, field: "dimg data", offset: Self.headerSize,
                                     "\(metadata.channel)×\(metadata.height)×\(metadata.width) \(format.rawValue) elements need \(expected) bytes, the file has \(data.count)")
        }
        self.metadata = metadata
        self.format = format
        self.numbering = numbering
        self.data = data
    }

    /// The file's bytes: header, metadata, packed elements.
    public func serialized() -> [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(Self.headerSize + data.count)
        let m = metadata
        for word in [Self.version, m.formatCode, m.width, m.height, m.channel, m.lineStride, m.surfaceStride, m.size] {
            bytes.append(contentsOf: (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) })
        }
        bytes.append(contentsOf: data)
        return bytes
    }

    /// The surface the elements came from (`NvDlaImage::unpackData`): `metadata.size` bytes,
    /// each element at its address, zero between them.
    public func surface() -> [UInt8] {
        var surface = [UInt8](repeating: 0, count: Int(metadata.size))
        let size = format.bytesPerElement
        // The offsets were checked when the image was made.
        for (index, offset) in ((try? Self.elementOffsets(metadata, format)) ?? []).enumerated() {
            surface.replaceSubrange(offset..<offset + size, with: data[index * size..<(index + 1) * size])
        }
        return surface
    }

    /// The bytes of the element at channel `c`, row `y`, column `x` (each inside the metadata's
    /// channel, height and width).
    public func element(c: Int, y: Int, x: Int) -> ArraySlice<UInt8> {
        let size = format.bytesPerElement
        let index = (c * Int(metadata.height) + y) * Int(metadata.width) + x
        return data[index * size..<(index + 1) * size]
    }

    // MARK: Addressing, as NvDlaImage::getAddrOffset

    private static func format(of metadata: Metadata, _ numbering: FormatNumbering) throws(NVDLALoadableError) -> Format {
        guard let format = Format(code: metadata.formatCode, numbering: numbering) else {
            throw NVDLALoadableError(.unsupported, field: "dimg metadata", offset: 8,
                                     "surface format \(metadata.formatCode) has no address layout in NVIDIA's DlaImage (\(numbering.rawValue) numbering)")
        }
        return format
    }

    /// Every element's address in the surface, in file order, each checked to lie inside `size`.
    /// The elements must also fit in the surface (width × height × channel × bytes per element ≤
    /// size), which bounds the work by the surface size whatever the strides say.
    static func elementOffsets(_ m: Metadata, _ format: Format) throws(NVDLALoadableError) -> [Int] {
        let bpe = format.bytesPerElement
        let (plane, overflow1) = Int(m.width).multipliedReportingOverflow(by: Int(m.height))
        let (elements, overflow2) = plane.multipliedReportingOverflow(by: Int(m.channel))
        guard !overflow1, !overflow2, elements <= Int(m.size) / bpe else {
            throw NVDLALoadableError(.invalid, field: "dimg metadata", offset: 12,
                                     "\(m.channel)×\(m.height)×\(m.width) elements of \(bpe) bytes do not fit in a \(m.size)-byte surface")
        }
        guard elements > 0 else { return [] }
        if format == .r8, m.channel > 1 {
            throw NVDLALoadableError(.invalid, field: "dimg metadata", offset: 20, "T_R8 has one channel, the metadata says \(m.channel)")
        }
        let lineStride = Int(m.lineStride), surfaceStride = Int(m.surfaceStride), channels = Int(m.channel)
        /// `NvDlaImage::getAddrOffset` as (multiplier, multiplicand) terms; `nil` on overflow.
        func address(_ c: Int, _ y: Int, _ x: Int) -> Int? {
            let terms: [(Int, Int)]
            switch format {
            case .r8: terms = [(y, lineStride * bpe), (x, bpe)]
            case .r8g8b8, .b8g8r8: terms = [(y, lineStride), (x, channels), (c, 1)]
            case .a8b8g8r8, .a16b16g16r16Float: terms = [(y, lineStride), (x, 4 * bpe), (c, bpe)]
            case .int8CHW, .int16CHW, .float16CHW, .float32CHW: terms = [(c, surfaceStride), (y, lineStride), (x, bpe)]
            case .int8Atoms32: terms = [(c / 32, surfaceStride), (y, lineStride), (x, 32 * bpe), (c % 32, bpe)]
            case .int8Atoms8, .float32Atoms8: terms = [(c / 8, surfaceStride), (y, lineStride), (x, 8 * bpe), (c % 8, bpe)]
            case .int16Atoms16, .float16Atoms16: terms = [(c / 16, surfaceStride), (y, lineStride), (x, 16 * bpe), (c % 16, bpe)]
            }
            var sum = 0
            for (a, b) in terms {
                let (product, overflow) = a.multipliedReportingOverflow(by: b)
                guard !overflow, product <= Int(UInt32.max) else { return nil }
                sum += product
            }
            return sum
        }
        var offsets: [Int] = []
        offsets.reserveCapacity(elements)
        for c in 0..<channels {
            for y in 0..<Int(m.height) {
                for x in 0..<Int(m.width) {
                    guard let offset = address(c, y, x), offset + bpe <= Int(m.size) else {
                        throw NVDLALoadableError(.invalid, field: "dimg metadata", offset: 8,
                                                 "element (c \(c), y \(y), x \(x)) lies outside the \(m.size)-byte surface")
                    }
                    offsets.append(offset)
                }
            }
        }
        return offsets
    }

    /// NVIDIA's stable-hash normalization of one IEEE element (see `init(metadata:surface:numbering:)`).
    static func stableHashed(_ element: ArraySlice<UInt8>) -> [UInt8] {
        let bytes = Array(element)
        if bytes.count == 2 {
            let bits = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
            let isNaN = bits & 0x7C00 == 0x7C00 && bits & 0x03FF != 0
            let normalized: UInt16 = bits == 0x7800 ? 0x0000 : isNaN ? 0x77C0 : bits
            return [UInt8(normalized & 0xFF), UInt8(normalized >> 8)]
        }
        let value = Float(bitPattern: bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) })
        let normalized: Float = value == 2_147_483_648.0 ? 0 : value.isNaN ? Float(UInt32(0x7FBF_FFFF)) : value
        return (0..<4).map { UInt8(truncatingIfNeeded: normalized.bitPattern >> (8 * UInt32($0))) }
    }
}
