/// One operation of a firmware network: its node in the dependency graph and its unit's descriptors.
public struct FirmwareOperation: Sendable, Hashable {
    public let common: FirmwareCommonOperation
    public let unit: FirmwareUnit
}

/// The decoded op and surface descriptors of one operation.
public enum FirmwareUnit: Sendable, Hashable {
    case bdma(FirmwareBDMA)
    case convolution(FirmwareConvolution)
    case sdp(FirmwareSDP)
    case pdp(FirmwarePDP)
    case cdp(FirmwareCDP)
    case rubik(FirmwareRubik)
}

/// A task's network as the firmware reads it (nvdla/sw `kmd/firmware/scheduler.c`,
/// `dla_read_network_config`): the network descriptor at address-list index 0, which points (by
/// address-list index) at the operation list (116 bytes each), the surface list (644 bytes each),
/// the dependency graph (36 bytes each) and the LUTs (700 bytes each).
public struct FirmwareNetwork: Sendable, Hashable {
    /// Bytes of one `dla_operation_container` / `dla_surface_container` entry.
    public static let operationContainerSize = 116
    public static let surfaceContainerSize = 644

    public let version: FirmwareInterfaceVersion
    public let descriptor: FirmwareNetworkDescriptor
    public let operations: [FirmwareOperation]
    public let luts: [FirmwareLUT]

    /// Decodes the network of a task.
    ///
    /// - Parameter region: the bytes at a task address-list index, from its address to the end of
    ///   its address-list entry; throws for an index the task does not have.
    public init(version: FirmwareInterfaceVersion,
                region: (Int) throws(FirmwareDescriptorError) -> [UInt8]) throws(FirmwareDescriptorError) {
        try version.validate()
        self.version = version
        let descriptor = try FirmwareNetworkDescriptor(bytes: try region(0))
        self.descriptor = descriptor
        guard descriptor.roiCount == 1, !descriptor.dynamicROI else {
            throw .unsupported(what: "networks with \(descriptor.roiCount) regions of interest (dynamic: \(descriptor.dynamicROI)); only one static ROI is modelled")
        }
        let count = descriptor.operationCount
        func list(_ index: Int16, _ name: String, entry: Int, count: Int) throws(FirmwareDescriptorError) -> FirmwareBytes {
            guard index >= 0 else {
                throw .invalidField(what: "dla_network_desc.\(name)", found: "\(index)", expected: "an address-list index for \(count) entries")
            }
            let bytes = FirmwareBytes(try region(Int(index)), what: name)
            try bytes.check(0, entry * count, "\(count) entries of \(entry) bytes")
            return bytes
        }
        let graph = try list(descriptor.dependencyGraphIndex, "dependency_graph", entry: FirmwareCommonOperation.size, count: count)
        let ops = try list(descriptor.operationDescriptorIndex, "operation_desc", entry: Self.operationContainerSize, count: count)
        let surfaces = try list(descriptor.surfaceDescriptorIndex, "surface_desc", entry: Self.surfaceContainerSize, count: count)
        var operations: [FirmwareOperation] = []
        for i in 0..<count {
            let common = try FirmwareCommonOperation(
                try graph.slice(i * FirmwareCommonOperation.size, FirmwareCommonOperation.size, "dla_common_op_desc[\(i)]"),
                operationCount: count)
            let o = try ops.slice(i * Self.operationContainerSize, Self.operationContainerSize, "\(common.type) op_desc[\(i)]")
            let s = try surfaces.slice(i * Self.surfaceContainerSize, Self.surfaceContainerSize, "\(common.type) surface_desc[\(i)]")
            let unit: FirmwareUnit
            switch common.type {
            case .bdma: unit = .bdma(try FirmwareBDMA(operation: o, surface: s))
            case .convolution: unit = .convolution(try FirmwareConvolution(operation: o, surface: s, version: version))
            case .sdp: unit = .sdp(try FirmwareSDP(operation: o, surface: s, version: version))
            case .pdp: unit = .pdp(try FirmwarePDP(operation: o, surface: s, version: version))
            case .cdp: unit = .cdp(try FirmwareCDP(operation: o, surface: s, version: version))
            case .rubik: unit = .rubik(try FirmwareRubik(operation: o, surface: s, version: version))
            }
            operations.append(FirmwareOperation(common: common, unit: unit))
        }
        for (type, head) in zip(FirmwareOperationType.allCases, descriptor.operationHeads) where head >= 0 {
            guard operations[Int(head)].common.type == type else {
                throw .invalidField(what: "dla_network_desc.op_head[\(type)]", found: "operation \(head) of type \(operations[Int(head)].common.type)", expected: "an operation of type \(type)")
            }
        }
        self.operations = operations
        var luts: [FirmwareLUT] = []
        if descriptor.lutCount > 0 {
            let table = try list(descriptor.lutDataIndex, "lut_data", entry: FirmwareLUT.size, count: descriptor.lutCount)
            for i in 0..<descriptor.lutCount {
                luts.append(try FirmwareLUT(bytes: try table.slice(i * FirmwareLUT.size, FirmwareLUT.size, "dla_lut_param[\(i)]").bytes))
            }
        }
        self.luts = luts
        for op in operations {
            let lut: Int16? = switch op.unit {
            case .sdp(let s): s.lutIndex
            case .cdp(let c): c.lutIndex
            default: nil
            }
            if let lut, lut != -1, lut < 0 || Int(lut) >= luts.count {
                throw .invalidField(what: "\(op.common.type) operation \(op.common.index) lut_index", found: "\(lut)", expected: "-1..<\(luts.count)")
            }
        }
    }
}
