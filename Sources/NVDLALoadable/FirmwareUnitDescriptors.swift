/// Per-unit operation and surface descriptors (`dla_*_op_desc`, `dla_*_surface_desc`). Offsets are
/// those of the `__packed` C structs (checked against gcc's `offsetof`); surface offsets depend on
/// the data-cube size of the interface version.

/// `dla_bdma_transfer_desc` (32 bytes): `surfaceRepeat` surfaces of `lineRepeat` lines of
/// `lineSize` bytes.
public struct FirmwareBDMATransfer: Sendable, Hashable {
    public let sourceAddress: Int16
    public let destinationAddress: Int16
    public let lineSize: UInt32
    public let lineRepeat: UInt32
    public let sourceLine: UInt32
    public let destinationLine: UInt32
    public let surfaceRepeat: UInt32
    public let sourceSurface: UInt32
    public let destinationSurface: UInt32
}

/// `dla_bdma_surface_desc` (644 bytes) with its op descriptor's transfer count.
public struct FirmwareBDMA: Sendable, Hashable {
    public static let maximumTransfers = 20
    public let sourceType: FirmwareMemoryType
    public let destinationType: FirmwareMemoryType
    public let transfers: [FirmwareBDMATransfer]

    init(operation o: FirmwareBytes, surface s: FirmwareBytes) throws(FirmwareDescriptorError) {
        let opCount = Int(try o.u16(0, "num_transfers"))
        func memory(_ offset: Int, _ name: String) throws(FirmwareDescriptorError) -> FirmwareMemoryType {
            let raw = try s.u8(offset, name)
            guard let type = FirmwareMemoryType(rawValue: UInt16(raw)), type != .hardware else {
                throw .invalidField(what: "\(s.what).\(name)", found: "\(raw)", expected: "0 (DRAM) or 1 (CV-SRAM)")
            }
            return type
        }
        sourceType = try memory(0, "source_type")
        destinationType = try memory(1, "destination_type")
        let count = Int(try s.u16(2, "num_transfers"))
        guard count <= Self.maximumTransfers, count == opCount else {
            throw .invalidField(what: "\(s.what).num_transfers", found: "\(count) (op descriptor: \(opCount))",
                                expected: "equal counts, at most \(Self.maximumTransfers)")
        }
        var transfers: [FirmwareBDMATransfer] = []
        for i in 0..<count {
            let t = 4 + 32 * i
            let n = "transfers[\(i)]"
            transfers.append(FirmwareBDMATransfer(
                sourceAddress: try s.i16(t, "\(n).source_address"),
                destinationAddress: try s.i16(t + 2, "\(n).destination_address"),
                lineSize: try s.u32(t + 4, "\(n).line_size"),
                lineRepeat: try s.u32(t + 8, "\(n).line_repeat"),
                sourceLine: try s.u32(t + 12, "\(n).source_line"),
                destinationLine: try s.u32(t + 16, "\(n).destination_line"),
                surfaceRepeat: try s.u32(t + 20, "\(n).surface_repeat"),
                sourceSurface: try s.u32(t + 24, "\(n).source_surface"),
                destinationSurface: try s.u32(t + 28, "\(n).destination_surface")))
        }
        self.transfers = transfers
    }
}

/// `dla_conv_op_desc` (92 bytes) and `dla_conv_surface_desc`.
public struct FirmwareConvolution: Sendable, Hashable {
    public enum Mode: UInt8, Sendable, Hashable { case direct = 0, winograd = 1 }
    public let mode: Mode
    /// `FORMAT_FEATURE` (36) for feature input; other values are image (pixel) input formats.
    public let dataFormat: UInt8
    public let batch: Int
    /// Compressed weights (`WEIGHT_FORMAT_COMPRESSED`) come with WMB/WGS cubes.
    public let weightsCompressed: Bool
    public let dataBanks: Int
    public let weightBanks: Int
    public let batchStride: UInt32
    public let inputWidth: Int, inputHeight: Int, inputChannels: Int
    public let kernelWidth: Int, kernelHeight: Int, kernelChannels: Int
    public let outputWidth: Int, outputHeight: Int
    public let bytesPerKernel: UInt32
    public let meanFormat: Bool
    public let strideX: Int, strideY: Int
    public let padLeft: Int, padRight: Int, padTop: Int, padBottom: Int
    public let dilationX: Int, dilationY: Int
    public let praTruncate: UInt8
    public let inputPrecision: FirmwarePrecision
    public let outputPrecision: FirmwarePrecision
    public let padValue: Int16
    public let inputConverter: FirmwareConverter
    public let outputConverter: FirmwareConverter
    public let weights: FirmwareDataCube
    public let weightMask: FirmwareDataCube
    public let weightGroupSizes: FirmwareDataCube
    public let source: FirmwareDataCube
    public let destination: FirmwareDataCube

    /// `FORMAT_FEATURE`: the input is a feature cube (other formats are pixel images).
    public static let featureFormat: UInt8 = 36

    init(operation o: FirmwareBytes, surface s: FirmwareBytes, version: FirmwareInterfaceVersion) throws(FirmwareDescriptorError) {
        try o.check(0, 92, "whole descriptor")
        let rawMode = try o.u8(0, "conv_mode")
        guard let mode = Mode(rawValue: rawMode) else {
            throw .invalidField(what: "\(o.what).conv_mode", found: "\(rawMode)", expected: "0 (direct) or 1 (Winograd)")
        }
        self.mode = mode
        dataFormat = try o.u8(8, "data_format")
        batch = Int(try o.u8(20, "batch"))
        weightsCompressed = try o.u8(21, "weight_format") != 0
        dataBanks = Int(try o.u8(22, "data_bank"))
        weightBanks = Int(try o.u8(23, "weight_bank"))
        batchStride = try o.u32(24, "batch_stride")
        inputWidth = Int(try o.u16(32, "input_width_csc"))
        inputHeight = Int(try o.u16(34, "input_height_csc"))
        inputChannels = Int(try o.u16(36, "input_channel_csc"))
        kernelWidth = Int(try o.u16(38, "kernel_width_csc"))
        kernelHeight = Int(try o.u16(40, "kernel_height_csc"))
        kernelChannels = Int(try o.u16(42, "kernel_channel_csc"))
        outputWidth = Int(try o.u16(44, "input_width_cmac"))
        outputHeight = Int(try o.u16(46, "input_height_cmac"))
        bytesPerKernel = try o.u32(48, "bytes_per_kernel")
        meanFormat = try o.u8(60, "mean_format") != 0
        strideX = Int(try o.u8(61, "conv_stride_x"))
        strideY = Int(try o.u8(62, "conv_stride_y"))
        padLeft = Int(try o.u8(63, "pad_x_left"))
        padRight = Int(try o.u8(64, "pad_x_right"))
        padTop = Int(try o.u8(65, "pad_y_top"))
        padBottom = Int(try o.u8(66, "pad_y_bottom"))
        dilationX = Int(try o.u8(67, "dilation_x"))
        dilationY = Int(try o.u8(68, "dilation_y"))
        praTruncate = try o.u8(71, "pra_truncate")
        inputPrecision = try FirmwarePrecision.decode(try o.u8(72, "in_precision"), "\(o.what).in_precision")
        outputPrecision = try FirmwarePrecision.decode(try o.u8(73, "out_precision"), "\(o.what).out_precision")
        padValue = try o.i16(74, "pad_val")
        inputConverter = try FirmwareConverter(o, at: 76, name: "in_cvt")
        outputConverter = try FirmwareConverter(o, at: 84, name: "out_cvt")
        let cube = version.dataCubeSize
        weights = try FirmwareDataCube(s, at: 0, version: version, name: "weight_data")
        weightMask = try FirmwareDataCube(s, at: cube, version: version, name: "wmb_data")
        weightGroupSizes = try FirmwareDataCube(s, at: 2 * cube, version: version, name: "wgs_data")
        source = try FirmwareDataCube(s, at: 3 * cube, version: version, name: "src_data")
        destination = try FirmwareDataCube(s, at: 4 * cube, version: version, name: "dst_data")
    }
}

/// `dla_sdp_op` (32 bytes): one of SDP's X1 (BS), X2 (BN) and Y (EW) stages.
public struct FirmwareSDPStage: Sendable, Hashable {
    public enum ALU: UInt8, Sendable, Hashable { case maximum = 0, minimum = 1, sum = 2, equal = 3 }
    /// Which of ALU and multiplier run (`SDP_OP_*`).
    public enum Kind: UInt8, Sendable, Hashable { case none = 0, multiply = 1, add = 2, both = 3 }
    /// Where the operand comes from (`SDP_OP_PER_*`): a register, per channel, per element.
    public enum Mode: UInt8, Sendable, Hashable { case perLayer = 0, perKernel = 1, perPoint = 2 }
    /// `ACTIVATION_*`.
    public enum Activation: UInt8, Sendable, Hashable { case none = 0, relu = 1, lut = 2, prelu = 3 }
    public let enabled: Bool
    public let alu: ALU
    public let kind: Kind
    public let mode: Mode
    public let activation: Activation
    /// ALU operand left shift.
    public let shiftValue: UInt8
    /// Multiplier truncation (right shift).
    public let truncate: UInt8
    /// Operand precision.
    public let precision: FirmwarePrecision
    public let aluOperand: Int32
    public let mulOperand: Int32
    public let aluConverter: FirmwareConverter
    public let mulConverter: FirmwareConverter

    init(_ b: FirmwareBytes, at base: Int, name: String) throws(FirmwareDescriptorError) {
        func decode<E: RawRepresentable<UInt8>>(_ offset: Int, _ field: String, _ expected: String) throws(FirmwareDescriptorError) -> E {
            let raw = try b.u8(base + offset, "\(name).\(field)")
            guard let value = E(rawValue: raw) else {
                throw .invalidField(what: "\(b.what).\(name).\(field)", found: "\(raw)", expected: expected)
            }
            return value
        }
        enabled = try b.u8(base, "\(name).enable") != 0
        alu = try decode(1, "alu_type", "0...3")
        kind = try decode(2, "type", "0...3")
        mode = try decode(3, "mode", "0...2")
        activation = try decode(4, "act", "0...3")
        shiftValue = try b.u8(base + 5, "\(name).shift_value")
        truncate = try b.u8(base + 6, "\(name).truncate")
        precision = try FirmwarePrecision.decode(try b.u8(base + 7, "\(name).precision"), "\(b.what).\(name).precision")
        aluOperand = try b.i32(base + 8, "\(name).alu_operand")
        mulOperand = try b.i32(base + 12, "\(name).mul_operand")
        aluConverter = try FirmwareConverter(b, at: base + 16, name: "\(name).cvt.alu_cvt")
        mulConverter = try FirmwareConverter(b, at: base + 24, name: "\(name).cvt.mul_cvt")
    }
}

/// `dla_sdp_op_desc` (116 bytes) and `dla_sdp_surface_desc`.
public struct FirmwareSDP: Sendable, Hashable {
    public let sourcePrecision: FirmwarePrecision
    public let destinationPrecision: FirmwarePrecision
    /// LUT used by an `ACTIVATION_LUT` stage, −1 if none.
    public let lutIndex: Int16
    public let outputConverter: FirmwareConverter
    public let winograd: Bool
    public let batch: Int
    public let batchStride: UInt32
    public let x1: FirmwareSDPStage
    public let x2: FirmwareSDPStage
    public let y: FirmwareSDPStage
    public let source: FirmwareDataCube
    public let x1Data: FirmwareDataCube
    public let x2Data: FirmwareDataCube
    public let yData: FirmwareDataCube
    public let destination: FirmwareDataCube

    init(operation o: FirmwareBytes, surface s: FirmwareBytes, version: FirmwareInterfaceVersion) throws(FirmwareDescriptorError) {
        try o.check(0, 116, "whole descriptor")
        sourcePrecision = try FirmwarePrecision.decode(try o.u8(0, "src_precision"), "\(o.what).src_precision")
        destinationPrecision = try FirmwarePrecision.decode(try o.u8(1, "dst_precision"), "\(o.what).dst_precision")
        lutIndex = try o.i16(2, "lut_index")
        outputConverter = try FirmwareConverter(o, at: 4, name: "out_cvt")
        winograd = try o.u8(12, "conv_mode") == FirmwareConvolution.Mode.winograd.rawValue
        batch = Int(try o.u8(13, "batch_num"))
        batchStride = try o.u32(16, "batch_stride")
        x1 = try FirmwareSDPStage(o, at: 20, name: "x1_op")
        x2 = try FirmwareSDPStage(o, at: 52, name: "x2_op")
        y = try FirmwareSDPStage(o, at: 84, name: "y_op")
        let cube = version.dataCubeSize
        source = try FirmwareDataCube(s, at: 0, version: version, name: "src_data")
        x1Data = try FirmwareDataCube(s, at: cube, version: version, name: "x1_data")
        x2Data = try FirmwareDataCube(s, at: 2 * cube, version: version, name: "x2_data")
        yData = try FirmwareDataCube(s, at: 3 * cube, version: version, name: "y_data")
        destination = try FirmwareDataCube(s, at: 4 * cube, version: version, name: "dst_data")
    }
}

/// `dla_pdp_op_desc` (52 bytes) and `dla_pdp_surface_desc`.
public struct FirmwarePDP: Sendable, Hashable {
    public enum Mode: UInt8, Sendable, Hashable { case average = 0, maximum = 1, minimum = 2 }
    public let splitCount: Int
    public let mode: Mode
    /// Kernel size 1...8 (the descriptor holds `POOL_SIZE_n` = n − 1).
    public let kernelWidth: Int, kernelHeight: Int
    public let strideX: Int, strideY: Int
    public let padLeft: Int, padRight: Int, padTop: Int, padBottom: Int
    public let precision: FirmwarePrecision
    /// `padding_value[i]` = (i + 1) × the padded value (−offset·scale), for the average's sums.
    public let paddingValues: [Int32]
    public let source: FirmwareDataCube
    public let destination: FirmwareDataCube

    init(operation o: FirmwareBytes, surface s: FirmwareBytes, version: FirmwareInterfaceVersion) throws(FirmwareDescriptorError) {
        try o.check(0, 52, "whole descriptor")
        splitCount = Int(try o.u8(12, "split_num"))
        let rawMode = try o.u8(13, "pool_mode")
        guard let mode = Mode(rawValue: rawMode) else {
            throw .invalidField(what: "\(o.what).pool_mode", found: "\(rawMode)", expected: "0 (average), 1 (max) or 2 (min)")
        }
        self.mode = mode
        let width = try o.u8(14, "pool_width"), height = try o.u8(15, "pool_height")
        guard width < 8, height < 8 else {
            throw .invalidField(what: "\(o.what).pool_width/height", found: "\(width), \(height)", expected: "POOL_SIZE_1...POOL_SIZE_8 (0...7)")
        }
        kernelWidth = Int(width) + 1
        kernelHeight = Int(height) + 1
        strideX = Int(try o.u8(16, "stride_x"))
        strideY = Int(try o.u8(17, "stride_y"))
        padLeft = Int(try o.u8(18, "pad_left"))
        padRight = Int(try o.u8(19, "pad_right"))
        padTop = Int(try o.u8(20, "pad_top"))
        padBottom = Int(try o.u8(21, "pad_bottom"))
        precision = try FirmwarePrecision.decode(try o.u8(22, "precision"), "\(o.what).precision")
        var padding: [Int32] = []
        for i in 0..<7 { padding.append(try o.i32(24 + 4 * i, "padding_value[\(i)]")) }
        paddingValues = padding
        source = try FirmwareDataCube(s, at: 0, version: version, name: "src_data")
        destination = try FirmwareDataCube(s, at: version.dataCubeSize, version: version, name: "dst_data")
    }
}

/// `dla_cdp_op_desc` (24 bytes) and `dla_cdp_surface_desc`.
public struct FirmwareCDP: Sendable, Hashable {
    public let inputPrecision: FirmwarePrecision
    public let outputPrecision: FirmwarePrecision
    public let lutIndex: Int16
    public let inputConverter: FirmwareConverter
    public let outputConverter: FirmwareConverter
    /// Channels in the square sum: 3, 5, 7 or 9.
    public let localSize: Int
    public let bypassSquareSum: Bool
    public let bypassOutputMultiply: Bool
    public let source: FirmwareDataCube
    public let destination: FirmwareDataCube

    init(operation o: FirmwareBytes, surface s: FirmwareBytes, version: FirmwareInterfaceVersion) throws(FirmwareDescriptorError) {
        try o.check(0, 24, "whole descriptor")
        inputPrecision = try FirmwarePrecision.decode(try o.u8(0, "in_precision"), "\(o.what).in_precision")
        outputPrecision = try FirmwarePrecision.decode(try o.u8(1, "out_precision"), "\(o.what).out_precision")
        lutIndex = try o.i16(2, "lut_index")
        inputConverter = try FirmwareConverter(o, at: 4, name: "in_cvt")
        outputConverter = try FirmwareConverter(o, at: 12, name: "out_cvt")
        localSize = Int(try o.u8(20, "local_size"))
        guard [3, 5, 7, 9].contains(localSize) else {
            throw .invalidField(what: "\(o.what).local_size", found: "\(localSize)", expected: "3, 5, 7 or 9")
        }
        bypassSquareSum = try o.u8(21, "bypass_sqsum") != 0
        bypassOutputMultiply = try o.u8(22, "bypass_out_mul") != 0
        source = try FirmwareDataCube(s, at: 0, version: version, name: "src_data")
        destination = try FirmwareDataCube(s, at: version.dataCubeSize, version: version, name: "dst_data")
    }
}

/// `dla_rubik_op_desc` (4 bytes) and `dla_rubik_surface_desc`.
public struct FirmwareRubik: Sendable, Hashable {
    public enum Mode: UInt8, Sendable, Hashable { case contract = 0, split = 1, merge = 2 }
    public let mode: Mode
    public let precision: FirmwarePrecision
    public let strideX: Int
    public let strideY: Int
    public let source: FirmwareDataCube
    public let destination: FirmwareDataCube

    init(operation o: FirmwareBytes, surface s: FirmwareBytes, version: FirmwareInterfaceVersion) throws(FirmwareDescriptorError) {
        let rawMode = try o.u8(0, "mode")
        guard let mode = Mode(rawValue: rawMode) else {
            throw .invalidField(what: "\(o.what).mode", found: "\(rawMode)", expected: "0 (contract), 1 (split) or 2 (merge)")
        }
        self.mode = mode
        precision = try FirmwarePrecision.decode(try o.u8(1, "precision"), "\(o.what).precision")
        strideX = Int(try o.u8(2, "stride_x"))
        strideY = Int(try o.u8(3, "stride_y"))
        source = try FirmwareDataCube(s, at: 0, version: version, name: "src_data")
        destination = try FirmwareDataCube(s, at: version.dataCubeSize, version: version, name: "dst_data")
    }
}

/// `dla_lut_param` (700 bytes): SDP's and CDP's two-table LUT.
public struct FirmwareLUT: Sendable, Hashable {
    public static let size = 700
    /// `dla_slope`: an integer slope `scale >> shifter` (or, for FP16 pipelines, FP16 bits in the
    /// low 16 bits: `scale` read as their bit pattern).
    public struct Slope: Sendable, Hashable {
        public let scale: Int16
        public let shifter: Int8
    }
    /// 65 entries (LE, linear or exponential).
    public let linearExponentTable: [Int16]
    /// 257 entries (LO, linear).
    public let linearOnlyTable: [Int16]
    /// LE: `exp_offset` (exponential method) or `frac_bits` (linear method).
    public let linearExponentOffset: Int8
    /// LO: `frac_bits`.
    public let linearOnlyOffset: Int8
    public let linearExponentStart: Int64, linearExponentEnd: Int64
    public let linearOnlyStart: Int64, linearOnlyEnd: Int64
    public let linearExponentUnderflow: Slope, linearExponentOverflow: Slope
    public let linearOnlyUnderflow: Slope, linearOnlyOverflow: Slope
    /// `LUT_PRI_*`: 0 = LE, 1 = LO.
    public let hybridPriority: UInt8, underflowPriority: UInt8, overflowPriority: UInt8
    /// LE method: 0 = exponential, 1 = linear.
    public let method: UInt8

    public init(bytes: [UInt8]) throws(FirmwareDescriptorError) {
        let b = FirmwareBytes(bytes, what: "dla_lut_param")
        try b.check(0, Self.size, "whole descriptor")
        var le: [Int16] = [], lo: [Int16] = []
        for i in 0..<65 { le.append(try b.i16(2 * i, "linear_exp_table[\(i)]")) }
        for i in 0..<257 { lo.append(try b.i16(130 + 2 * i, "linear_only_table[\(i)]")) }
        linearExponentTable = le
        linearOnlyTable = lo
        linearExponentOffset = try b.i8(644, "linear_exp_offset")
        linearOnlyOffset = try b.i8(646, "linear_only_offset")
        linearExponentStart = try b.i64(648, "linear_exp_start")
        linearExponentEnd = try b.i64(656, "linear_exp_end")
        linearOnlyStart = try b.i64(664, "linear_only_start")
        linearOnlyEnd = try b.i64(672, "linear_only_end")
        func slope(_ offset: Int, _ name: String) throws(FirmwareDescriptorError) -> Slope {
            Slope(scale: try b.i16(offset, "\(name).scale"), shifter: try b.i8(offset + 2, "\(name).shifter"))
        }
        linearExponentUnderflow = try slope(680, "linear_exp_underflow_slope")
        linearExponentOverflow = try slope(684, "linear_exp_overflow_slope")
        linearOnlyUnderflow = try slope(688, "linear_only_underflow_slope")
        linearOnlyOverflow = try slope(692, "linear_only_overflow_slope")
        hybridPriority = try b.u8(696, "hybrid_priority")
        underflowPriority = try b.u8(697, "underflow_priority")
        overflowPriority = try b.u8(698, "overflow_priority")
        method = try b.u8(699, "method")
        for (name, value) in [("hybrid_priority", hybridPriority), ("underflow_priority", underflowPriority),
                              ("overflow_priority", overflowPriority), ("method", method)] where value > 1 {
            throw .invalidField(what: "dla_lut_param.\(name)", found: "\(value)", expected: "0 or 1")
        }
    }
}
