/// The entries of an NVDLA loadable, one Swift type per table of nvdla/sw
/// `umd/core/src/common/loadable.fbs`, with the schema's field names in their doc comments.
///
/// Enumerations are kept as raw values with names, not as closed Swift enums: NVIDIA's own
/// compiler writes values the schema does not list (e.g. data format 3, `NCxHWx`, from
/// `NvDlaType.h`), and its runtime accepts them. Names come from `NvDlaLoadable.h` and `NvDlaType.h`.
extension NVDLALoadableFile {
    /// `Version`: a loadable's or a blob's interface version.
    public struct Version: Sendable, Hashable, CustomStringConvertible {
        public var major: UInt8
        public var minor: UInt8
        public var subMinor: UInt8

        public init(major: UInt8, minor: UInt8, subMinor: UInt8) {
            self.major = major
            self.minor = minor
            self.subMinor = subMinor
        }

        public var description: String { "\(major).\(minor).\(subMinor)" }
    }

    /// `TaskListEntry`: one task, submitted to one interface (the DLA firmware or the CPU
    /// emulator) with its address list.
    public struct TaskEntry: Sendable, Hashable {
        /// `id`: equals the entry's index (checked).
        public var id: Int
        /// `interface`: DLA1 tasks run on the accelerator's firmware, EMU1 tasks on the CPU.
        public var interface: Interface
        /// `instance`: which engine instance, -1 for any.
        public var instance: Int16
        /// `address_list`: address-list ids handed to the task, in order (the firmware indexes them).
        public var addressList: [Int]
        /// `pre_actions`: event ids waited for before the task runs.
        public var preActions: [Int]
        /// `post_actions`: event ids signalled when it is done.
        public var postActions: [Int]
    }

    /// `MemoryListEntry`: one memory region the runtime allocates.
    public struct MemoryEntry: Sendable, Hashable {
        /// `id`: equals the entry's index (checked); address-list entries refer to it.
        public var id: Int
        public var domain: MemoryDomain
        public var flags: MemoryFlags
        /// `size` in bytes.
        public var size: UInt64
        /// `alignment` in bytes, 0 when it does not matter.
        public var alignment: UInt32
        /// `contents`: blob names placed in the region when `flags` has `.set`.
        public var contents: [String]
        /// `offsets`: where each of `contents` goes in the region.
        public var offsets: [UInt64]
        /// `bind_id`: the input or output number, meaningful when `flags` has `.input` or `.output`.
        public var bindID: Int
        /// `tensor_desc_id`: the tensor descriptor of a bound input or output.
        public var tensorDescriptorID: Int

        /// Bound memories are the network's inputs and outputs: the caller supplies them.
        public var isBound: Bool { flags.contains(.input) || flags.contains(.output) }
    }

    /// `AddressListEntry`: a region of a memory that tasks address by id.
    public struct AddressEntry: Sendable, Hashable {
        /// `id`: equals the entry's index (checked).
        public var id: Int
        /// `mem_id`: the memory it lies in.
        public var memoryID: Int
        public var offset: UInt64
        /// `size` from `offset` (0 in some NVIDIA loadables: the rest of the memory).
        public var size: UInt64
    }

    /// `EventListEntry`: a semaphore-like event between tasks.
    public struct EventEntry: Sendable, Hashable {
        /// `id`: equals the entry's index (checked).
        public var id: Int
        public var type: UInt8
        /// `target`: the event chain.
        public var target: UInt16
        /// `val`: the value waited for or signalled.
        public var value: UInt32
        public var op: EventOp
    }

    /// `Blob`: named bytes (firmware descriptors, weights, input images) that memories are
    /// filled from.
    public struct Blob: Sendable, Hashable {
        public var name: String
        public var interface: Interface
        /// `sub_interface`: for DLA1, 1 address list, 2 dependency graph, 3 op list, 4 surface
        /// list, 5 LUT list (`NvDlaLoadable.h`); NVIDIA's unit tests also use it as a plain index.
        public var subInterface: UInt32
        public var version: Version
        /// `data`: exactly `size` bytes (checked), a slice of the loadable's buffer.
        public var data: ArraySlice<UInt8>

        public var size: Int { data.count }
    }

    /// `TensorDescListEntry`: shape and layout of a tensor in memory, for bound inputs and outputs.
    public struct TensorDescriptor: Sendable, Hashable {
        public var name: String
        /// `id`: equals the entry's index (checked).
        public var id: Int
        /// `mem_id`: the memory that holds it.
        public var memoryID: Int
        /// `size` in bytes of the whole surface, strides included.
        public var size: UInt64
        public var offset: UInt64
        public var dataFormat: DataFormat
        public var dataType: DataType
        public var dataCategory: DataCategory
        public var pixelFormat: PixelFormat
        public var pixelMapping: PixelMapping
        /// `n`, `c`, `h`, `w` (checked non-negative).
        public var n: Int32
        public var c: Int32
        public var h: Int32
        public var w: Int32
        /// `stride_0` … `stride_7`: for feature data, 0 = bytes per element, 1 = line stride,
        /// 2 = surface stride (as NVIDIA's runtime reads them into a `.dimg`).
        public var strides: [UInt32]

        public var lineStride: UInt32 { strides[1] }
        public var surfaceStride: UInt32 { strides[2] }
    }

    /// `RelocListEntry`: where the runtime patches a line (type 1) or surface (type 2) stride
    /// into a descriptor when the caller rebinds a tensor with other strides.
    public struct RelocationEntry: Sendable, Hashable {
        public var addressID: Int
        public var writeID: Int
        public var offset: UInt64
        public var interface: Interface
        public var subInterface: UInt32
        public var relocationType: UInt8
    }

    /// `SubmitListEntry`: tasks submitted together; entries are submitted in id order.
    public struct SubmitEntry: Sendable, Hashable {
        /// `id`: equals the entry's index (checked).
        public var id: Int
        public var taskIDs: [Int]
    }
}

/// An enumeration read as its raw value, named when the value is known.
public protocol NamedRawValue: RawRepresentable, Hashable, Sendable, CustomStringConvertible
where RawValue: FixedWidthInteger & Sendable {
    static var names: [RawValue: String] { get }
}

extension NamedRawValue {
    public var name: String? { Self.names[rawValue] }
    public var description: String { name ?? "unknown(\(rawValue))" }
}

extension NVDLALoadableFile {
    /// `Interface`: who runs a task or reads a blob.
    public struct Interface: NamedRawValue {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `NONE`: raw data (weights, images) rather than descriptors for an interface.
        public static let rawData = Interface(rawValue: 0)
        public static let dla1 = Interface(rawValue: 1)
        public static let emu1 = Interface(rawValue: 2)
        public static let names: [UInt32: String] = [0: "NONE", 1: "DLA1", 2: "EMU1"]
    }

    /// `MemoryDomain`: system memory (DRAM) or the accelerator's SRAM; nothing else is accepted.
    public struct MemoryDomain: NamedRawValue {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let system = MemoryDomain(rawValue: 0)
        public static let sram = MemoryDomain(rawValue: 1)
        public static let names: [UInt8: String] = [0: "SYSTEM", 1: "SRAM"]
    }

    /// `MemoryFlags`; only the five bits `NvDlaLoadable.h` defines are accepted.
    public struct MemoryFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// Allocate the region.
        public static let alloc = MemoryFlags(rawValue: 1)
        /// Fill it from `contents` after allocating.
        public static let set = MemoryFlags(rawValue: 2)
        /// A bound input: the caller supplies it.
        public static let input = MemoryFlags(rawValue: 4)
        /// A bound output: the caller reads it.
        public static let output = MemoryFlags(rawValue: 8)
        public static let debug = MemoryFlags(rawValue: 16)
        static let defined: MemoryFlags = [.alloc, .set, .input, .output, .debug]

        /// The names of the flags set, as `NvDlaLoadable.h` spells them.
        public var names: [String] {
            [(MemoryFlags.alloc, "ALLOC"), (.set, "SET"), (.input, "INPUT"), (.output, "OUTPUT"), (.debug, "DEBUG")]
                .filter { contains($0.0) }.map(\.1)
        }

        public var description: String { names.isEmpty ? "NONE" : names.joined(separator: "|") }
    }

    /// `EventOp`.
    public struct EventOp: NamedRawValue {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let wait = EventOp(rawValue: 0)
        public static let signal = EventOp(rawValue: 1)
        public static let names: [UInt8: String] = [0: "WAIT", 1: "SIGNAL"]
    }

    /// `DataFormat` (`NVDLA_DATA_FORMAT_*`).
    public struct DataFormat: NamedRawValue {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let names: [UInt8: String] = [0: "UNKNOWN", 1: "NCHW", 2: "NHWC", 3: "NCxHWx"]
    }

    /// `DataType` (`NVDLA_DATA_TYPE_*`).
    public struct DataType: NamedRawValue {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let float = DataType(rawValue: 1)
        public static let half = DataType(rawValue: 2)
        public static let int16 = DataType(rawValue: 3)
        public static let int8 = DataType(rawValue: 4)
        public static let names: [UInt8: String] = [0: "UNKNOWN", 1: "FLOAT", 2: "HALF", 3: "INT16", 4: "INT8", 5: "UINT8", 6: "UINT16"]
    }

    /// `DataCategory` (`NVDLA_DATA_CATEGORY_*`).
    public struct DataCategory: NamedRawValue {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let names: [UInt8: String] = [0: "IMAGE", 1: "WEIGHT", 2: "FEATURE", 3: "PLANAR", 4: "BIAS"]
    }

    /// `PixelFormat` (`NVDLA_PIXEL_FORMAT_*`): image formats 0…35, then feature data.
    public struct PixelFormat: NamedRawValue {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Feature data in 32-byte atoms (nv_full, nv_large) or, for FP16/INT16, 16 elements.
        public static let feature = PixelFormat(rawValue: 36)
        /// Feature data in 8-byte atoms (nv_small).
        public static let featureX8 = PixelFormat(rawValue: 37)
        public static let names: [UInt8: String] = {
            let images = ["R8", "R10", "R12", "R16", "R16_I", "R16_F", "A16B16G16R16", "X16B16G16R16", "A16B16G16R16_F",
                          "A16Y16U16V16", "V16U16Y16A16", "A16Y16U16V16_F", "A8B8G8R8", "A8R8G8B8", "B8G8R8A8", "R8G8B8A8",
                          "X8B8G8R8", "X8R8G8B8", "B8G8R8X8", "R8G8B8X8", "A2B10G10R10", "A2R10G10B10", "B10G10R10A2",
                          "R10G10B10A2", "A2Y10U10V10", "V10U10Y10A2", "A8Y8U8V8", "V8U8Y8A8", "Y8_U8V8_N444", "Y8_V8U8_N444",
                          "Y10_U10V10_N444", "Y10_V10U10_N444", "Y12_U12V12_N444", "Y12_V12U12_N444", "Y16_U16V16_N444",
                          "Y16_V16U16_N444", "FEATURE", "FEATURE_X8"]
            return Dictionary(uniqueKeysWithValues: images.enumerated().map { (UInt8($0.offset), $0.element) })
        }()
    }

    /// `PixelMapping`.
    public struct PixelMapping: NamedRawValue {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let names: [UInt8: String] = [0: "PITCH_LINEAR", 1: "INVALID_PIXEL_MAP"]
    }
}
