import Crypto
import Foundation
@testable import NVDLALoadable
import Testing

/// NVIDIA's regression loadables, compared field by field with what the flatbuffers package's
/// own Python runtime reads from them (Fixtures/loadables.json, written by
/// tools/nvdla/dump_loadables.py; `make nvdla-fixtures` regenerates it).
@Suite(.enabled(if: RegressionFiles.isAvailable, RegressionFiles.absent))
struct LoadableRegressionTests {
    /// The dump's schema (keys as dump_loadables.py writes them).
    struct Dump: Decodable {
        struct Task: Decodable, Equatable { var id: Int; var interface: UInt32; var instance: Int16; var addressList, preActions, postActions: [Int] }
        struct Memory: Decodable, Equatable {
            var id: Int; var domain: UInt8; var flags: UInt16; var size: UInt64; var alignment: UInt32
            var contents: [String]; var offsets: [UInt64]; var bindID: Int; var tensorDescID: Int; var initialSHA256: String
        }
        struct Address: Decodable, Equatable { var id, memID: Int; var offset, size: UInt64 }
        struct Event: Decodable, Equatable { var id: Int; var type: UInt8; var target: UInt16; var val: UInt32; var op: UInt8 }
        struct Blob: Decodable, Equatable { var name: String; var size: Int; var interface, subInterface: UInt32; var version: [UInt8]; var dataLength: Int; var dataSHA256: String }
        struct Tensor: Decodable, Equatable {
            var name: String; var id, memID: Int; var size, offset: UInt64
            var dataFormat, dataType, dataCategory, pixelFormat, pixelMapping: UInt8; var dims: [Int32]; var strides: [UInt32]
        }
        struct Relocation: Decodable, Equatable { var addressID, writeID: Int; var offset: UInt64; var interface, subInterface: UInt32; var relocType: UInt8 }
        struct Submit: Decodable, Equatable { var id: Int; var taskIDs: [Int] }
        var version: [UInt8]
        var tasks: [Task]; var memories: [Memory]; var addresses: [Address]; var events: [Event]; var blobs: [Blob]
        var tensors: [Tensor]; var relocations: [Relocation]; var submits: [Submit]
        var fileBytes: Int; var fileSHA256: String
    }

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/loadables.json")

    static func dumps() throws -> [String: Dump] {
        try JSONDecoder().decode([String: Dump].self, from: Data(contentsOf: fixture))
    }

    static func sha256(_ bytes: some Sequence<UInt8>) -> String {
        SHA256.hash(data: Array(bytes)).map { String(format: "%02x", $0) }.joined()
    }

    /// This reader's view of a loadable, in the dump's terms.
    static func dump(_ l: NVDLALoadableFile, file: [UInt8]) -> Dump {
        Dump(version: [l.version.major, l.version.minor, l.version.subMinor],
             tasks: l.tasks.map { .init(id: $0.id, interface: $0.interface.rawValue, instance: $0.instance, addressList: $0.addressList, preActions: $0.preActions, postActions: $0.postActions) },
             memories: l.memories.map {
                 .init(id: $0.id, domain: $0.domain.rawValue, flags: $0.flags.rawValue, size: $0.size, alignment: $0.alignment, contents: $0.contents,
                       offsets: $0.offsets, bindID: $0.bindID, tensorDescID: $0.tensorDescriptorID, initialSHA256: sha256(l.initialContents(ofMemory: $0.id)))
             },
             addresses: l.addresses.map { .init(id: $0.id, memID: $0.memoryID, offset: $0.offset, size: $0.size) },
             events: l.events.map { .init(id: $0.id, type: $0.type, target: $0.target, val: $0.value, op: $0.op.rawValue) },
             blobs: l.blobs.map {
                 .init(name: $0.name, size: $0.size, interface: $0.interface.rawValue, subInterface: $0.subInterface,
                       version: [$0.version.major, $0.version.minor, $0.version.subMinor], dataLength: $0.data.count, dataSHA256: sha256($0.data))
             },
             tensors: l.tensors.map {
                 .init(name: $0.name, id: $0.id, memID: $0.memoryID, size: $0.size, offset: $0.offset, dataFormat: $0.dataFormat.rawValue,
                       dataType: $0.dataType.rawValue, dataCategory: $0.dataCategory.rawValue, pixelFormat: $0.pixelFormat.rawValue,
                       pixelMapping: $0.pixelMapping.rawValue, dims: [$0.n, $0.c, $0.h, $0.w], strides: $0.strides)
             },
             relocations: l.relocations.map {
                 .init(addressID: $0.addressID, writeID: $0.writeID, offset: $0.offset, interface: $0.interface.rawValue, subInterface: $0.subInterface, relocType: $0.relocationType)
             },
             submits: l.submits.map { .init(id: $0.id, taskIDs: $0.taskIDs) },
             fileBytes: file.count, fileSHA256: sha256(file))
    }

    @Test func everyLoadableMatchesThePythonFlatbuffersDump() throws {
        let dumps = try Self.dumps()
        let paths = try RegressionFiles.loadablePaths()
        #expect(Set(paths) == Set(dumps.keys), "the fixture covers exactly the regression's loadables")
        #expect(paths.count == 15)
        for path in paths {
            let file = try RegressionFiles.bytes(path)
            let expected = try #require(dumps[path])
            #expect(Self.sha256(file) == expected.fileSHA256, "\(path) changed since the fixture was written")
            let loadable = try NVDLALoadableFile(bytes: file)
            let mine = Self.dump(loadable, file: file)
            #expect(mine.version == expected.version, "\(path)")
            #expect(mine.tasks == expected.tasks, "\(path)")
            #expect(mine.memories == expected.memories, "\(path)")
            #expect(mine.addresses == expected.addresses, "\(path)")
            #expect(mine.events == expected.events, "\(path)")
            #expect(mine.blobs == expected.blobs, "\(path)")
            #expect(mine.tensors == expected.tensors, "\(path)")
            #expect(mine.relocations == expected.relocations, "\(path)")
            #expect(mine.submits == expected.submits, "\(path)")
        }
    }

    @Test func convolutionTestHasOneFirmwareTaskAndItsOutput() throws {
        let loadable = try NVDLALoadableFile(bytes: RegressionFiles.bytes("flatbufs/kmd/CONV/CONV_D_L0_0_fbuf"))
        #expect(loadable.version == .init(major: 0, minor: 7, subMinor: 0))
        #expect(loadable.tasks.map(\.interface) == [.dla1])
        #expect(loadable.tasks[0].addressList == Array(0..<7))
        #expect(loadable.submits.map(\.taskIDs) == [[0]])
        #expect(loadable.inputs.isEmpty, "the convolution test carries its input in a blob")
        let output = try #require(loadable.outputs.first)
        #expect(loadable.outputs.count == 1)
        #expect(output.bindID == 0 && output.memoryID == 6)
        #expect(output.tensor.name == "m6_SDPDst_i6")
        #expect([output.tensor.n, output.tensor.c, output.tensor.h, output.tensor.w] == [1, 32, 8, 8])
        #expect(output.tensor.dataType == .int16 && output.tensor.pixelFormat == .feature)
        #expect(output.tensor.lineStride == 256 && output.tensor.surfaceStride == 2048)
        #expect(loadable.blob(named: "m4_CONVWgt_i4")?.size == 73728)
        #expect(loadable.blob(named: "absent") == nil)
        #expect(loadable.address(4)?.memoryID == 4)
        #expect(loadable.address(7) == nil)
        #expect(loadable.addresses(ofTask: loadable.tasks[0]).map(\.memoryID) == Array(0..<7))
        // The weights memory holds exactly its blob; the output memory starts as zeros.
        #expect(loadable.initialContents(ofMemory: 4)[...] == loadable.blob(named: "m4_CONVWgt_i4")?.data)
        #expect(loadable.initialContents(ofMemory: 6) == [UInt8](repeating: 0, count: 4096))
    }

    @Test func mnistNetworkBindsItsImageAndItsProbabilities() throws {
        let loadable = try NVDLALoadableFile(bytes: RegressionFiles.bytes("flatbufs/kmd/NN/NN_L0_0_fbuf"))
        #expect(loadable.tasks.map(\.interface) == [.emu1, .dla1, .emu1])
        #expect(loadable.submits.map(\.taskIDs) == [[0], [1], [2]])
        #expect(loadable.tasks[1].preActions == [1] && loadable.tasks[1].postActions == [2])
        #expect(loadable.events.map(\.op) == [.signal, .wait, .signal, .wait, .signal])
        #expect(loadable.inputs.map(\.tensor.name) == ["data"])
        #expect(loadable.outputs.map(\.tensor.name) == ["prob"])
        let input = loadable.inputs[0].tensor
        #expect([input.n, input.c, input.h, input.w] == [1, 1, 28, 28] && input.dataType == .half)
        #expect(input.dataFormat.description == "NCxHWx", "data format 3 is outside loadable.fbs but in NvDlaType.h")
        #expect(loadable.relocations.count == 4)
        #expect(loadable.memories.reduce(0) { $0 + $1.size } == 1_014_784)
    }

    // MARK: Rule violations, made by changing one field of a real loadable in place

    /// The byte position of scalar field `index` of `list[entry]` in the loadable at `path`,
    /// found with the flatbuffers reader itself.
    static func fieldPosition(_ bytes: [UInt8], list: Int, entry: Int, field: Int, size: Int) throws -> Int {
        let root = try FlatBufferReader(bytes).root("loadable")
        let table = try #require(try root.tables(list, "list")?[entry])
        return try #require(try table.fieldPosition(field, "field", size: size, alignment: 1))
    }

    static func violation(_ path: String, list: Int, entry: Int, field: Int, value: UInt16) throws -> NVDLALoadableError? {
        var bytes = try RegressionFiles.bytes(path)
        let position = try fieldPosition(bytes, list: list, entry: entry, field: field, size: 2)
        bytes[position] = UInt8(value & 0xFF)
        bytes[position + 1] = UInt8(value >> 8)
        return #expect(throws: NVDLALoadableError.self) { try NVDLALoadableFile(bytes: bytes) }
    }

    @Test func idThatIsNotItsPositionIsRefused() throws {
        let error = try Self.violation("flatbufs/kmd/CONV/CONV_D_L0_0_fbuf", list: 2, entry: 3, field: 0, value: 5)
        #expect(error?.description == "loadable.memory_list[3].id: id 5 differs from its position 3 (entries are looked up by position)")
    }

    @Test func addressOfAMissingMemoryIsRefused() throws {
        let error = try Self.violation("flatbufs/kmd/CONV/CONV_D_L0_0_fbuf", list: 3, entry: 2, field: 1, value: 40)
        #expect(error?.description == "loadable.address_list[2].mem_id: memory 40 does not exist (there are 7)")
    }

    @Test func undefinedMemoryFlagsAreRefused() throws {
        let error = try Self.violation("flatbufs/kmd/CONV/CONV_D_L0_0_fbuf", list: 2, entry: 0, field: 2, value: 0x43)
        #expect(error?.kind == .invalid)
        #expect(error?.field == "loadable.memory_list[0].flags")
    }

    @Test func duplicateBindIDsAreRefused() throws {
        // NN_L0_0's memory 12 is output 0; making memory 2 (input 0) an output too repeats bind id 0.
        let error = try Self.violation("flatbufs/kmd/NN/NN_L0_0_fbuf", list: 2, entry: 2, field: 2, value: 9)
        #expect(error?.message == "output bind ids must be 0…1 without repeats; found 0")
    }

    @Test func contentBlobThatDoesNotFitIsRefused() throws {
        // Memory 4 of the convolution test is exactly its weights blob; shrink it by one byte.
        var bytes = try RegressionFiles.bytes("flatbufs/kmd/CONV/CONV_D_L0_0_fbuf")
        let position = try Self.fieldPosition(bytes, list: 2, entry: 4, field: 3, size: 8)
        #expect(bytes[position..<position + 8] == [0x00, 0x20, 0x01, 0, 0, 0, 0, 0], "73728 bytes")
        bytes.replaceSubrange(position..<position + 3, with: [0xFF, 0x1F, 0x01])
        let error = #expect(throws: NVDLALoadableError.self) { try NVDLALoadableFile(bytes: bytes) }
        #expect(error?.description == "loadable.memory_list[4].offsets[0]: blob 'm4_CONVWgt_i4' (73728 bytes) at offset 0 does not fit in the memory's 73727 bytes")
    }

    @Test func memoryBeyondTheLimitIsRefused() throws {
        var limits = NVDLALoadableFile.Limits()
        limits.maximumMemoryBytes = 1_000_000
        let bytes = try RegressionFiles.bytes("flatbufs/kmd/NN/NN_L0_0_fbuf")
        let error = #expect(throws: NVDLALoadableError.self) { try NVDLALoadableFile(bytes: bytes, limits: limits) }
        #expect(error?.kind == .limitExceeded)
        #expect(throws: Never.self) { try NVDLALoadableFile(bytes: bytes) }
    }

    /// A real loadable truncated everywhere and with bytes overwritten at many places: each
    /// variant reads or throws, never crashes.
    @Test func mutatedRealLoadableReadsOrThrows() throws {
        let original = try RegressionFiles.bytes("flatbufs/kmd/PDP/PDP_L0_0_small_fbuf")
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        func reads(_ bytes: [UInt8]) -> Bool {
            do {
                let loadable = try NVDLALoadableFile(bytes: bytes)
                for memory in loadable.memories { _ = loadable.initialContents(ofMemory: memory.id) }
                return true
            } catch {
                return false
            }
        }
        let truncationsRead = stride(from: 0, to: original.count, by: 7).filter { reads(Array(original.prefix($0))) }
        #expect(truncationsRead.isEmpty, "truncated at \(truncationsRead)")
        var mutationsRead = 0
        for _ in 0..<1000 {
            var bytes = original
            for _ in 0..<(1 + next() % 3) { bytes[next() % bytes.count] = UInt8(truncatingIfNeeded: next()) }
            if reads(bytes) { mutationsRead += 1 }
        }
        #expect(mutationsRead > 0, "changes to data bytes still read")
    }
}

/// Loadable detection and rejection of files that are not loadables, without NVIDIA's files.
@Suite struct LoadableDetectionTests {
    @Test func dlaFilesAndTextAreNotLoadables() {
        #expect(!NVDLALoadableFile.looksLikeLoadable([0x89, 0x44, 0x4C, 0x41, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0]))
        #expect(!NVDLALoadableFile.looksLikeLoadable(Array("not a model at all".utf8)))
        #expect(!NVDLALoadableFile.looksLikeLoadable([12, 0, 0, 0]))
        #expect(NVDLALoadableFile.looksLikeLoadable([12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
    }

    @Test func aLoadableNeedsItsVersion() {
        // A root table with an empty vtable: every field absent, the required version too.
        var b = HandBuffer(count: 16)
        b.put(UInt32(8), at: 0)
        b.put(UInt16(4), at: 4)
        b.put(UInt16(4), at: 6)
        b.put(Int32(4), at: 8)
        let error = #expect(throws: NVDLALoadableError.self) { try NVDLALoadableFile(bytes: b.bytes) }
        #expect(error?.description == "loadable.version: required field is missing")
    }
}

/// A loadable written by today's flatbuffers Builder (Fixtures/synthetic_fbuf, from
/// tools/nvdla/make_synthetic_loadable.py) with what NVIDIA's regression files lack: two blobs in
/// one memory, bound and SRAM memories that name contents, inputs bound out of memory order.
@Suite struct SyntheticLoadableTests {
    static func loadable() throws -> NVDLALoadableFile {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/synthetic_fbuf")
        return try NVDLALoadableFile(bytes: [UInt8](try Data(contentsOf: path)))
    }

    @Test func memoriesStartAsNVIDIAsRuntimeFillsThem() throws {
        let l = try Self.loadable()
        #expect(l.initialContents(ofMemory: 0) == [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 9, 8, 7, 0, 0, 0], "two blobs at their offsets, zero between")
        #expect(l.initialContents(ofMemory: 1) == [UInt8](repeating: 0, count: 8), "a bound input is the caller's, SET or not")
        #expect(l.initialContents(ofMemory: 3) == [0, 0, 0, 0], "SRAM is not filled")
        #expect(l.initialContents(ofMemory: 5) == Array(10..<18))
        #expect(l.memories[3].domain == .sram && l.memories[0].alignment == 256)
    }

    @Test func inputsAreOrderedByBindID() throws {
        let l = try Self.loadable()
        #expect(l.inputs.map(\.bindID) == [0, 1])
        #expect(l.inputs.map(\.memoryID) == [2, 1])
        #expect(l.inputs.map(\.tensor.name) == ["in0", "in1"])
        #expect(l.outputs.map(\.tensor.name) == ["out"])
        let in1 = l.inputs[1].tensor
        #expect([in1.n, in1.c, in1.h, in1.w] == [1, 4, 1, 2] && in1.strides == [1, 8, 8, 0, 0, 0, 0, 0])
    }

    @Test func everyListReadsAsWritten() throws {
        let l = try Self.loadable()
        #expect(l.version.description == "0.7.0")
        #expect(l.tasks.map(\.addressList) == [[5, 0, 6, 4], [1, 2]])
        #expect(l.tasks.map(\.interface) == [.dla1, .emu1] && l.tasks.map(\.instance) == [-1, 0])
        #expect(l.tasks[1].preActions == [0] && l.tasks[1].postActions.isEmpty)
        #expect(l.address(6) == .init(id: 6, memoryID: 0, offset: 10, size: 3))
        #expect(l.addresses(ofTask: l.tasks[0]).map { [$0.memoryID, Int($0.offset)] } == [[5, 0], [0, 0], [0, 10], [4, 0]])
        #expect(l.events == [.init(id: 0, type: 0, target: 2, value: 7, op: .signal)])
        #expect(l.blob(named: "a")?.version.description == "0.0.0", "an absent struct reads as zeros")
        #expect(l.blob(named: "desc").map { ($0.interface, $0.subInterface, $0.version.description) } ?? (.rawData, 0, "") == (.dla1, 3, "0.12.0"))
        #expect(l.relocations == [.init(addressID: 6, writeID: 5, offset: 2, interface: .dla1, subInterface: 4, relocationType: 1)])
        #expect(l.submits.map(\.taskIDs) == [[0], [1]])
    }

    /// nv_small's FEATURE_X8 has its own .dimg format only in the current numbering; before it,
    /// NVIDIA's Tensor2DIMG fell back to FP16 atoms.
    @Test func featureX8OutputsDependOnTheNumbering() throws {
        let in0 = try Self.loadable().inputs[0].tensor
        #expect(in0.pixelFormat == .featureX8)
        let current = try NVDLAImage.Metadata(outputTensor: in0, numbering: .current)
        #expect(NVDLAImage.Format(code: current.formatCode, numbering: .current) == .int8Atoms8)
        let original = try NVDLAImage.Metadata(outputTensor: in0, numbering: .original)
        #expect(NVDLAImage.Format(code: original.formatCode, numbering: .original) == .float16Atoms16)
        #expect(current.lineStride == 8 && current.size == 8 && current.channel == 8)
    }

    /// Every truncation, and every byte set to 0x00 and to 0xFF: each variant reads or throws,
    /// and a truncation reads only if it cuts nothing but padding.
    @Test func everyMutationReadsOrThrows() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/synthetic_fbuf")
        let original = [UInt8](try Data(contentsOf: path))
        func reads(_ bytes: [UInt8]) -> Bool {
            guard let loadable = try? NVDLALoadableFile(bytes: bytes) else { return false }
            for memory in loadable.memories { _ = loadable.initialContents(ofMemory: memory.id) }
            return true
        }
        // The Builder pads the end of the buffer: cutting padding only still reads.
        let truncationsRead = (0..<original.count).filter { reads(Array(original.prefix($0))) }
        #expect(truncationsRead.allSatisfy { length in original[length...].allSatisfy { $0 == 0 } }, "truncated at \(truncationsRead)")
        var mutationsRead = 0
        for index in original.indices {
            for value: UInt8 in [0x00, 0xFF] where original[index] != value {
                var bytes = original
                bytes[index] = value
                if reads(bytes) { mutationsRead += 1 }
            }
        }
        #expect(mutationsRead > 0, "changes to data bytes still read")
    }
}
