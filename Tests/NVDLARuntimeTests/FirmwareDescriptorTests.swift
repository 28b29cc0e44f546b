import DLAEngine
import Foundation
import NVDLALoadable
import NVDLARuntime
import Testing

/// Firmware descriptors decoded from NVIDIA's own loadables, and hostile descriptors rejected
/// with the field named.
struct FirmwareDescriptorTests {
    /// The network of a regression loadable's single task, decoded from its memories.
    static func network(_ unit: String, _ test: String) throws -> FirmwareNetwork {
        let loadable = try NVDLALoadableFile(bytes: try RegressionTests.bytes("flatbufs/kmd/\(unit)/\(test)_fbuf"))
        let task = loadable.tasks[0]
        return try FirmwareNetwork(version: .regression) { (index: Int) throws(FirmwareDescriptorError) -> [UInt8] in
            guard index < task.addressList.count, let address = loadable.address(task.addressList[index]) else {
                throw .invalidField(what: "address index", found: "\(index)", expected: "an address of the task")
            }
            let memory = loadable.initialContents(ofMemory: address.memoryID)
            return Array(memory[Int(address.offset)..<Int(address.offset + address.size)])
        }
    }

    @Test func convolutionNetworkDecodesAsTheTestPlanDescribesIt() throws {
        // testplan firmware.py: "8x8x128 input cube, 3x3x128 kernel cube and 32 kernels ... output
        // written to DRAM through SDP"; nv_full runs it in INT16.
        let network = try Self.network("CONV", "CONV_D_L0_0")
        #expect(network.descriptor.operationCount == 2)
        #expect(network.descriptor.operationHeads == [-1, 0, 1, -1, -1, -1])
        guard case .convolution(let conv) = network.operations[0].unit, case .sdp(let sdp) = network.operations[1].unit else {
            Issue.record("expected CONV then SDP")
            return
        }
        #expect((conv.inputWidth, conv.inputHeight, conv.inputChannels) == (8, 8, 128))
        #expect((conv.kernelWidth, conv.kernelHeight, conv.kernelChannels) == (3, 3, 128))
        #expect(conv.destination.channel == 32 && conv.destination.memoryType == .hardware)
        #expect(conv.inputPrecision == .int16 && conv.bytesPerKernel == 3 * 3 * 128 * 2)
        #expect((conv.padLeft, conv.padRight, conv.padTop, conv.padBottom) == (1, 1, 1, 1))
        #expect(conv.source.lineStride == 256 && conv.source.surfaceStride == 2048)
        // The SDP is fused behind the convolution, which waits for the SDP to be enabled.
        #expect(network.operations[1].common.fusedParent == FirmwareConsumer(index: 0, event: .operationEnabled))
        #expect(network.operations[0].common.consumers.contains(FirmwareConsumer(index: 1, event: .operationProgrammed)))
        #expect(sdp.source.memoryType == .hardware && sdp.x1.activation == .relu && sdp.x1.kind == .add)
    }

    @Test func cdpNetworkCarriesItsLUT() throws {
        let network = try Self.network("CDP", "CDP_L0_0")
        #expect(network.luts.count == 1)
        guard case .cdp(let cdp) = network.operations[0].unit else {
            Issue.record("expected CDP")
            return
        }
        #expect(cdp.lutIndex == 0 && cdp.localSize == 3 && cdp.inputPrecision == .int16)
        #expect(network.luts[0].linearOnlyTable.count == 257 && network.luts[0].method == 1)
    }

    /// A valid one-operation network (a PDP) as raw descriptor regions, to mutate.
    static func pdpRegions() throws -> [[UInt8]] {
        let loadable = try NVDLALoadableFile(bytes: try RegressionTests.bytes("flatbufs/kmd/PDP/PDP_L0_0_fbuf"))
        return loadable.tasks[0].addressList.prefix(4).map { id in
            let address = loadable.address(id)!
            let memory = loadable.initialContents(ofMemory: address.memoryID)
            return Array(memory[Int(address.offset)..<Int(address.offset + address.size)])
        }
    }

    static func decode(_ regions: [[UInt8]], version: FirmwareInterfaceVersion = .regression) throws(FirmwareDescriptorError) -> FirmwareNetwork {
        try FirmwareNetwork(version: version) { (index: Int) throws(FirmwareDescriptorError) -> [UInt8] in
            guard index < regions.count else { throw .invalidField(what: "address index", found: "\(index)", expected: "0..<\(regions.count)") }
            return regions[index]
        }
    }

    @Test func hostileDescriptorsAreRejectedByField() throws {
        let good = try Self.pdpRegions()
        _ = try Self.decode(good)
        var truncated = good
        truncated[0] = Array(good[0].prefix(30))
        #expect(throws: FirmwareDescriptorError.truncated(what: "dla_network_desc.whole descriptor", offset: 0, needed: 40, available: 30)) {
            try Self.decode(truncated)
        }
        var badType = good
        badType[3][3] = 9  // dla_common_op_desc.op_type
        #expect(throws: FirmwareDescriptorError.invalidField(what: "dla_common_op_desc[0].op_type", found: "9", expected: "0...5")) {
            try Self.decode(badType)
        }
        var badConsumer = good
        badConsumer[3][8] = 7  // consumers[0].index: only one operation exists
        badConsumer[3][9] = 0
        #expect(throws: FirmwareDescriptorError.invalidField(what: "dla_common_op_desc[0].consumers[0].index", found: "7", expected: "-1..<1")) {
            try Self.decode(badConsumer)
        }
        var badHead = good
        badHead[0][16 + 2 * 3] = 0xFF  // op_head[PDP] = -1, op_head[BDMA] = 0 names the PDP
        badHead[0][16 + 2 * 3 + 1] = 0xFF
        badHead[0][16] = 0
        badHead[0][17] = 0
        #expect(throws: FirmwareDescriptorError.invalidField(what: "dla_network_desc.op_head[BDMA]", found: "operation 0 of type PDP", expected: "an operation of type BDMA")) {
            try Self.decode(badHead)
        }
        var badPool = good
        badPool[1][13] = 3  // pool_mode
        #expect(throws: FirmwareDescriptorError.invalidField(what: "PDP op_desc[0].pool_mode", found: "3", expected: "0 (average), 1 (max) or 2 (min)")) {
            try Self.decode(badPool)
        }
        var shortSurfaces = good
        shortSurfaces[2] = Array(good[2].prefix(100))
        #expect(throws: FirmwareDescriptorError.truncated(what: "surface_desc.1 entries of 644 bytes", offset: 0, needed: 644, available: 100)) {
            try Self.decode(shortSurfaces)
        }
        #expect(throws: FirmwareDescriptorError.unsupported(what: "firmware interface version 0.9.0 (known: 0.10 to 0.12)")) {
            try Self.decode(good, version: FirmwareInterfaceVersion(major: 0, minor: 9, subMinor: 0))
        }
    }

    /// The same PDP descriptors read as interface 0.12 (32-byte data cubes with `offset`): the
    /// 0.10 cubes no longer line up, and the destination's type field lands on its surface stride.
    @Test func dataCubeLayoutFollowsTheInterfaceVersion() throws {
        let regions = try Self.pdpRegions()
        guard case .pdp(let pdp) = try Self.decode(regions).operations[0].unit else {
            Issue.record("expected PDP")
            return
        }
        #expect(pdp.source.width == 8 && pdp.source.lineStride == 256 && pdp.source.offset == 0)
        #expect(pdp.destination.address == 5 && pdp.destination.surfaceStride == 2048)
        #expect(throws: FirmwareDescriptorError.invalidField(what: "PDP surface_desc[0].dst_data.type", found: "2048",
                                                             expected: "0 (DRAM), 1 (CV-SRAM) or 2 (hardware)")) {
            try Self.decode(regions, version: FirmwareInterfaceVersion(major: 0, minor: 12, subMinor: 0))
        }
    }
}

/// The runtime refuses what it cannot run, naming it, and changes nothing it was not asked to.
struct RuntimeRefusalTests {
    @Test func unitsMissingFromTheProfileAreRefused() throws {
        let loadable = try NVDLALoadableFile(bytes: try RegressionTests.bytes("flatbufs/kmd/BDMA/BDMA_L0_0_fbuf"))
        var runner = NVDLALoadableRunner(loadable)
        let before = try runner.outputBytes(0)
        #expect(throws: NVDLARuntimeError.engine(operation: "BDMA operation 0", .unsupported(unit: "BDMA", capability: "bridge DMA (BDMA)", profile: "nv_small"))) {
            try runner.run(profile: .nvSmall)
        }
        #expect(try runner.outputBytes(0) == before)
    }

    @Test func addressesOutsideTheirMemoryAreRefused() throws {
        #expect(throws: NVDLARuntimeError.outOfBounds(what: "address 0", detail: "offset 8 + size 16 past memory 0 of 16 bytes")) {
            try NVDLAMemory(memories: [0: [UInt8](repeating: 0, count: 16)], addresses: [0: .init(memory: 0, offset: 8, size: 16)], taskAddresses: [0])
        }
        #expect(throws: NVDLARuntimeError.outOfBounds(what: "task address-list index 0", detail: "address 3 does not exist")) {
            try NVDLAMemory(memories: [0: [UInt8](repeating: 0, count: 16)], addresses: [0: .init(memory: 0, offset: 0, size: 16)], taskAddresses: [3])
        }
    }

    @Test func pgmImagesAreReadStrictly() throws {
        let five = try PGMImage(bytes: try RegressionTests.bytes("images/digits/five.pgm"))
        #expect(five.width == 28 && five.height == 28 && five.pixels.count == 784)
        #expect(throws: NVDLARuntimeError.invalid(what: "PGM image", detail: "28×28 needs 784 pixel bytes, the file has 10")) {
            try PGMImage(bytes: Array("P5\n28 28\n255\n".utf8) + [UInt8](repeating: 0, count: 10))
        }
        #expect(throws: NVDLARuntimeError.invalid(what: "PGM image", detail: "does not start with P5 (binary grayscale)")) {
            try PGMImage(bytes: Array("P2\n1 1\n255\n0".utf8))
        }
        #expect(throws: NVDLARuntimeError.invalid(what: "PGM image", detail: "width above 16384")) {
            try PGMImage(bytes: Array("P5\n99999 1\n255\n".utf8))
        }
    }
}

/// The dependency graph decides the order; a cycle between pipelines is refused before anything runs.
struct DependencyOrderTests {
    @Test func aCycleBetweenPipelinesIsRefused() throws {
        let loadable = try NVDLALoadableFile(bytes: try RegressionTests.bytes("flatbufs/kmd/CONV/CONV_D_L0_0_fbuf"))
        var regions = loadable.tasks[0].addressList.prefix(4).map { id in
            let address = loadable.address(id)!
            return Array(loadable.initialContents(ofMemory: address.memoryID)[Int(address.offset)..<Int(address.offset + address.size)])
        }
        // Unfuse the SDP (fused_parent.index = -1) and make the CONV wait for it to complete,
        // while the SDP already waits for the CONV: two pipelines, each waiting on the other.
        let sdp = 36
        regions[3][sdp + 32] = 0xFF
        regions[3][sdp + 33] = 0xFF
        regions[3][sdp + 8 + 4 * 1] = 0       // SDP consumers[CONV] = operation 0 ...
        regions[3][sdp + 8 + 4 * 1 + 1] = 0
        regions[3][sdp + 8 + 4 * 1 + 2] = 1   // ... on completion
        let network = try FirmwareDescriptorTests.decode(regions)
        var memory = try NVDLAMemory(memories: [:], addresses: [:], taskAddresses: [])
        #expect(throws: NVDLARuntimeError.invalid(what: "dependency graph", detail: "operations [0, 1] wait on each other in a cycle")) {
            try NVDLATaskRunner.run(network, memory: &memory, profile: .nvFull)
        }
    }
}
