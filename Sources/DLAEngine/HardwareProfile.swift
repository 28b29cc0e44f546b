/// One NVDLA configuration: MAC array shape, convolution buffer, memory interface, per-unit
/// throughputs, the units it has, and a clock.
///
/// Array, buffer, throughput and feature switches come from nvdla/hw `spec/defs/*.spec`
/// (`MAC_ATOMIC_C_SIZE_*`, `MAC_ATOMIC_K_SIZE_*`, `CBUF_BANK_NUMBER/WIDTH/DEPTH_*`,
/// `PRIMARY_MEMIF_WIDTH_*`, `SDP_*_THROUGHPUT_*`, `PDP/CDP_THROUGHPUT_*`, `*_ENABLE/_DISABLE`);
/// nv_full is the fixed nvdlav1 release (nvdla/hw README: 2048 INT8 or 1024 FP16 MACs). The spec
/// files define no clock: see `clockSource` for each profile. docs/EMULATOR.md lists every figure.
public struct HardwareProfile: Sendable, Hashable {
    public struct Capabilities: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let int8 = Capabilities(rawValue: 1 << 0)
        public static let fp16 = Capabilities(rawValue: 1 << 1)
        /// Our extension: FP8 (E4M3/E5M2) at the INT8 MAC rate. NVDLA has no FP8.
        public static let fp8 = Capabilities(rawValue: 1 << 2)
        public static let sdpLookupTable = Capabilities(rawValue: 1 << 3)
        public static let sdpElementwise = Capabilities(rawValue: 1 << 4)
        public static let pdp = Capabilities(rawValue: 1 << 5)
        public static let cdp = Capabilities(rawValue: 1 << 6)
        public static let bdma = Capabilities(rawValue: 1 << 7)
        public static let rubik = Capabilities(rawValue: 1 << 8)
        /// CDMA reads weights compressed (bitmask + nonzero values): sparsity saves DRAM bytes.
        public static let weightCompression = Capabilities(rawValue: 1 << 9)
    }

    public let name: String
    /// Input channels one atomic operation reduces (INT8).
    public let atomicC: Int
    /// Output channels (MAC cells) one atomic operation feeds (INT8); FP16 uses half.
    public let atomicK: Int
    public let cbufBanks: Int
    public let cbufBankBytes: Int
    /// Bytes the primary memory interface moves per cycle.
    public let dramBytesPerCycle: Int
    /// Elements per cycle: SDP bias/batch-norm pipes, SDP element-wise pipe, PDP, CDP.
    public let sdpThroughput: Int
    public let sdpElementwiseThroughput: Int
    public let pdpThroughput: Int
    public let cdpThroughput: Int
    public let clockHertz: Double
    public let clockSource: String
    /// Independent DLA cores (Xavier has two).
    public let cores: Int
    public let capabilities: Capabilities

    public var cbufBytes: Int { cbufBanks * cbufBankBytes }
    public var int8MACsPerCycle: Int { atomicC * atomicK }
    /// FP16 and INT16 run at half the INT8 rate: atomic-K halves (nvdla/hw README: 1024 FP16 MACs).
    public var fp16MACsPerCycle: Int { capabilities.contains(.fp16) ? atomicC * atomicK / 2 : 0 }
    /// FP8 at the INT8 rate: our assumption, as NVDLA has no FP8 datapath.
    public var fp8MACsPerCycle: Int { capabilities.contains(.fp8) ? atomicC * atomicK : 0 }

    /// nv_small.spec: 8×8 MACs, 32 banks × 8 B × 512 = 128 KiB CBUF, 64-bit memory interface, INT8
    /// only, no SDP LUT or element-wise, no BDMA or RUBIK, no weight compression.
    public static let nvSmall = HardwareProfile(
        name: "nv_small", atomicC: 8, atomicK: 8, cbufBanks: 32, cbufBankBytes: 8 * 512, dramBytesPerCycle: 8,
        sdpThroughput: 1, sdpElementwiseThroughput: 0, pdpThroughput: 1, cdpThroughput: 1,
        clockHertz: 1e9, clockSource: "assumed 1 GHz: nv_small.spec defines no clock", cores: 1,
        capabilities: [.int8, .pdp, .cdp])

    /// nv_large.spec: 64×32 MACs, 16 banks × 64 B × 512 = 512 KiB CBUF, 256-bit memory interface,
    /// INT8 only, SDP LUT and element-wise, no BDMA or RUBIK, no weight compression.
    public static let nvLarge = HardwareProfile(
        name: "nv_large", atomicC: 64, atomicK: 32, cbufBanks: 16, cbufBankBytes: 64 * 512, dramBytesPerCycle: 32,
        sdpThroughput: 16, sdpElementwiseThroughput: 4, pdpThroughput: 8, cdpThroughput: 8,
        clockHertz: 1e9, clockSource: "assumed 1 GHz: nv_large.spec defines no clock", cores: 1,
        capabilities: [.int8, .sdpLookupTable, .sdpElementwise, .pdp, .cdp])

    /// nvdlav1 "full precision": 64×32 INT8 (1024 FP16) MACs, 16 banks × 32 KiB = 512 KiB CBUF,
    /// 512-bit memory interface, every unit, weight compression. Throughputs as nv_large.
    public static let nvFull = HardwareProfile(
        name: "nv_full", atomicC: 64, atomicK: 32, cbufBanks: 16, cbufBankBytes: 64 * 512, dramBytesPerCycle: 64,
        sdpThroughput: 16, sdpElementwiseThroughput: 4, pdpThroughput: 8, cdpThroughput: 8,
        clockHertz: 1e9, clockSource: "assumed 1 GHz: the nvdlav1 release defines no clock", cores: 1,
        capabilities: [.int8, .fp16, .fp8, .sdpLookupTable, .sdpElementwise, .pdp, .cdp, .bdma, .rubik, .weightCompression])

    /// Jetson AGX Xavier: two nv_full-class DLA cores at 1395.2 MHz.
    public static let xavier = HardwareProfile(
        name: "xavier", atomicC: 64, atomicK: 32, cbufBanks: 16, cbufBankBytes: 64 * 512, dramBytesPerCycle: 64,
        sdpThroughput: 16, sdpElementwiseThroughput: 4, pdpThroughput: 8, cdpThroughput: 8,
        clockHertz: 1.3952e9,
        clockSource: "1395.2 MHz, the DLA's maximum clock listed for Jetson AGX Xavier (NVIDIA module data sheet; quoted, not re-verified here)",
        cores: 2,
        capabilities: [.int8, .fp16, .fp8, .sdpLookupTable, .sdpElementwise, .pdp, .cdp, .bdma, .rubik, .weightCompression])

    public static let all: [HardwareProfile] = [.nvSmall, .nvLarge, .nvFull, .xavier]

    /// The profile called `name` (`nv_small`, `nv_large`, `nv_full`, `xavier`).
    public static func named(_ name: String) throws(EngineError) -> HardwareProfile {
        guard let profile = all.first(where: { $0.name == name }) else {
            throw .invalidParameter(name: "hardware profile", expected: all.map(\.name).joined(separator: ", "), found: name)
        }
        return profile
    }
}
