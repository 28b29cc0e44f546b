/// Decoded firmware descriptors (`dla_interface.h`): network, common operation (dependency graph),
/// data cubes and converters. Unit descriptors live in `FirmwareUnitDescriptors.swift`.

/// `dla_network_desc` (40 bytes): where everything else is, as indices into the task's address list.
public struct FirmwareNetworkDescriptor: Sendable, Hashable {
    public static let size = 40
    public let operationDescriptorIndex: Int16
    public let surfaceDescriptorIndex: Int16
    public let dependencyGraphIndex: Int16
    public let lutDataIndex: Int16
    public let roiArrayIndex: Int16
    public let surfaceIndex: Int16
    public let statListIndex: Int16
    /// First operation of each type (BDMA, CONV, SDP, PDP, CDP, RUBIK), −1 if none.
    public let operationHeads: [Int16]
    public let roiCount: Int
    public let operationCount: Int
    public let lutCount: Int
    public let addressCount: Int
    public let inputLayer: Int16
    public let dynamicROI: Bool

    public init(bytes: [UInt8]) throws(FirmwareDescriptorError) {
        let b = FirmwareBytes(bytes, what: "dla_network_desc")
        try b.check(0, Self.size, "whole descriptor")
        operationDescriptorIndex = try b.i16(0, "operation_desc_index")
        surfaceDescriptorIndex = try b.i16(2, "surface_desc_index")
        dependencyGraphIndex = try b.i16(4, "dependency_graph_index")
        lutDataIndex = try b.i16(6, "lut_data_index")
        roiArrayIndex = try b.i16(8, "roi_array_index")
        surfaceIndex = try b.i16(10, "surface_index")
        statListIndex = try b.i16(12, "stat_list_index")
        var heads: [Int16] = []
        for i in 0..<FirmwareOperationType.allCases.count { heads.append(try b.i16(16 + 2 * i, "op_head[\(i)]")) }
        operationHeads = heads
        roiCount = Int(try b.u16(28, "num_rois"))
        operationCount = Int(try b.u16(30, "num_operations"))
        lutCount = Int(try b.u16(32, "num_luts"))
        addressCount = Int(try b.u16(34, "num_addresses"))
        inputLayer = try b.i16(36, "input_layer")
        dynamicROI = try b.u8(38, "dynamic_roi") != 0
        for (type, head) in zip(FirmwareOperationType.allCases, heads) where head < -1 || Int(head) >= operationCount {
            throw .invalidField(what: "dla_network_desc.op_head[\(type)]", found: "\(head)", expected: "-1..<\(operationCount)")
        }
    }
}

/// The six processors (`DLA_OP_*`).
public enum FirmwareOperationType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case bdma = 0, convolution = 1, sdp = 2, pdp = 3, cdp = 4, rubik = 5

    public var description: String {
        switch self {
        case .bdma: "BDMA"
        case .convolution: "CONV"
        case .sdp: "SDP"
        case .pdp: "PDP"
        case .cdp: "CDP"
        case .rubik: "RUBIK"
        }
    }
}

/// Operation events (`DLA_EVENT_*`) a consumer waits for.
public enum FirmwareEvent: UInt8, Sendable, Hashable {
    case operationCompleted = 1, operationProgrammed = 2, operationEnabled = 3, weightsLoaded = 4, dataLoaded = 5
}

/// `dla_consumer`: an operation that waits for `event` of its producer.
public struct FirmwareConsumer: Sendable, Hashable {
    public let index: Int
    public let event: FirmwareEvent

    public init(index: Int, event: FirmwareEvent) {
        self.index = index
        self.event = event
    }
}

/// `dla_common_op_desc` (36 bytes): one node of the dependency graph.
public struct FirmwareCommonOperation: Sendable, Hashable {
    public static let size = 36
    public let index: Int
    public let roiIndex: Int8
    public let type: FirmwareOperationType
    /// Events this operation waits for before it may be enabled.
    public let dependencyCount: Int
    /// Per processor type, the operation waiting on this one (at most one per type).
    public let consumers: [FirmwareConsumer]
    /// The operation this one is fused behind (an SDP behind a CONV, a PDP behind an SDP).
    public let fusedParent: FirmwareConsumer?

    init(_ b: FirmwareBytes, operationCount: Int) throws(FirmwareDescriptorError) {
        try b.check(0, Self.size, "whole descriptor")
        index = Int(try b.i16(0, "index"))
        roiIndex = try b.i8(2, "roi_index")
        let rawType = try b.u8(3, "op_type")
        guard let type = FirmwareOperationType(rawValue: rawType) else {
            throw .invalidField(what: "\(b.what).op_type", found: "\(rawType)", expected: "0...5")
        }
        self.type = type
        dependencyCount = Int(try b.u8(4, "dependency_count"))
        func consumer(_ offset: Int, _ name: String) throws(FirmwareDescriptorError) -> FirmwareConsumer? {
            let index = try b.i16(offset, "\(name).index")
            if index == -1 { return nil }
            guard index >= 0, Int(index) < operationCount else {
                throw .invalidField(what: "\(b.what).\(name).index", found: "\(index)", expected: "-1..<\(operationCount)")
            }
            let rawEvent = try b.u8(offset + 2, "\(name).event")
            guard let event = FirmwareEvent(rawValue: rawEvent) else {
                throw .invalidField(what: "\(b.what).\(name).event", found: "\(rawEvent)", expected: "1...5")
            }
            return FirmwareConsumer(index: Int(index), event: event)
        }
        var consumers: [FirmwareConsumer] = []
        for i in 0..<FirmwareOperationType.allCases.count {
            if let c = try consumer(8 + 4 * i, "consumers[\(i)]") { consumers.append(c) }
        }
        self.consumers = consumers
        fusedParent = try consumer(32, "fused_parent")
    }
}

/// Where a data cube lives (`DLA_MEM_*`).
public enum FirmwareMemoryType: UInt16, Sendable, Hashable {
    /// External DRAM.
    case dram = 0
    /// CV-SRAM, the secondary memory interface.
    case sram = 1
    /// Another unit on the fly (a fused pipeline), no memory at all.
    case hardware = 2
}

/// `dla_data_cube`: a feature cube in memory.
public struct FirmwareDataCube: Sendable, Hashable {
    public let memoryType: FirmwareMemoryType
    /// Index into the task's address list (−1: none).
    public let address: Int16
    /// Bytes added to the address (interface 0.12 and later; 0 before).
    public let offset: UInt32
    public let size: UInt32
    public let width: Int
    public let height: Int
    public let channel: Int
    public let lineStride: UInt32
    public let surfaceStride: UInt32
    /// RUBIK only.
    public let planeStride: UInt32

    init(_ b: FirmwareBytes, at base: Int, version: FirmwareInterfaceVersion, name: String) throws(FirmwareDescriptorError) {
        try b.check(base, version.dataCubeSize, name)
        let rawType = try b.u16(base, "\(name).type")
        guard let type = FirmwareMemoryType(rawValue: rawType) else {
            throw .invalidField(what: "\(b.what).\(name).type", found: "\(rawType)", expected: "0 (DRAM), 1 (CV-SRAM) or 2 (hardware)")
        }
        memoryType = type
        address = try b.i16(base + 2, "\(name).address")
        let shift = version.dataCubesHaveOffset ? 4 : 0
        offset = version.dataCubesHaveOffset ? try b.u32(base + 4, "\(name).offset") : 0
        size = try b.u32(base + 4 + shift, "\(name).size")
        width = Int(try b.u16(base + 8 + shift, "\(name).width"))
        height = Int(try b.u16(base + 10 + shift, "\(name).height"))
        channel = Int(try b.u16(base + 12 + shift, "\(name).channel"))
        lineStride = try b.u32(base + 16 + shift, "\(name).line_stride")
        surfaceStride = try b.u32(base + 20 + shift, "\(name).surf_stride")
        planeStride = try b.u32(base + 24 + shift, "\(name).plane_stride")
    }
}

/// `dla_cvt_param` (8 bytes): a converter `(x − offset)·scale >> truncate`.
public struct FirmwareConverter: Sendable, Hashable {
    public let scale: Int16
    public let truncate: UInt8
    public let enabled: Bool
    public let offset: Int32

    init(_ b: FirmwareBytes, at base: Int, name: String) throws(FirmwareDescriptorError) {
        scale = try b.i16(base, "\(name).scale")
        truncate = try b.u8(base + 2, "\(name).truncate")
        enabled = try b.u8(base + 3, "\(name).enable") != 0
        offset = try b.i32(base + 4, "\(name).offset")
    }
}

/// Data precisions (`PRECISION_*`).
public enum FirmwarePrecision: UInt8, Sendable, Hashable, CustomStringConvertible {
    case int8 = 0, int16 = 1, fp16 = 2

    /// Bytes per element (`BPE_PRECISION_*`).
    public var bytes: Int { self == .int8 ? 1 : 2 }

    public var description: String {
        switch self {
        case .int8: "INT8"
        case .int16: "INT16"
        case .fp16: "FP16"
        }
    }

    static func decode(_ raw: UInt8, _ what: String) throws(FirmwareDescriptorError) -> FirmwarePrecision {
        guard let p = FirmwarePrecision(rawValue: raw) else {
            throw .invalidField(what: what, found: "\(raw)", expected: "0 (INT8), 1 (INT16) or 2 (FP16)")
        }
        return p
    }
}
