/// An NVDLA loadable: what NVIDIA's compiler (and its regression's test generator) writes for
/// the runtime to run, read from its flatbuffers form (nvdla/sw `umd/core/src/common/loadable.fbs`).
///
/// What an executor needs, all checked when the file is read:
/// - `blobs` and `blob(named:)`: the named byte strings (firmware descriptors, weights, data),
///   each with its interface (`DLA1` firmware, `EMU1` CPU emulator, `NONE` raw data).
/// - `memories` and `initialContents(ofMemory:)`: each memory region with the bytes the runtime
///   puts in it before the first task (content blobs at their offsets, zero elsewhere).
/// - `addresses`, `address(_:)` and `addresses(ofTask:)`: the address list (memory id + offset);
///   a task's `addressList` is the ordered list of these ids its firmware descriptors index into.
/// - `tasks`, `submits` and `events`: what runs, in which order, and the events between tasks.
/// - `inputs`, `outputs`: the bound tensors (memory with the INPUT or OUTPUT flag, by bind id)
///   with their tensor descriptors (dims, data type, pixel format, strides).
/// - `relocations`: where a stride would be patched if a caller rebound a tensor with other strides.
///
/// Strictness: besides the flatbuffers layout (see `FlatBufferReader`), every id is its entry's
/// index (NVIDIA's runtime looks entries up by index), every reference (address → memory, task →
/// addresses and events, submit → tasks, tensor → memory, relocation → addresses) is in range,
/// bound memories have unique bind ids 0…n-1 per direction and a tensor descriptor, every blob
/// named by a SET memory exists and fits at its offset, blob data is exactly `size` bytes, blob
/// names are unique, memory domains and flags are ones NVIDIA defines, and the memories' total
/// size stays within `Limits.maximumMemoryBytes` (they are allocated to run the loadable).
public struct NVDLALoadableFile: Sendable {
    /// Bounds on what a loadable may ask for.
    public struct Limits: Sendable {
        /// Sum of all memory sizes (each is allocated to run the loadable). NVIDIA's MNIST network
        /// needs about 1 MB.
        public var maximumMemoryBytes: UInt64 = 1 << 30

        public init() {}
    }

    /// A bound input or output: its memory and tensor descriptor.
    public struct BoundTensor: Sendable, Hashable {
        /// The bind id: the input's or output's number, 0…n-1.
        public var bindID: Int
        public var memoryID: Int
        public var tensor: TensorDescriptor
    }

    /// `version`: the loadable format's version (NVIDIA's regression files are 0.7.0).
    public var version: Version
    public var tasks: [TaskEntry]
    public var memories: [MemoryEntry]
    public var addresses: [AddressEntry]
    public var events: [EventEntry]
    public var blobs: [Blob]
    public var tensors: [TensorDescriptor]
    public var relocations: [RelocationEntry]
    public var submits: [SubmitEntry]
    /// The bound inputs, by bind id.
    public private(set) var inputs: [BoundTensor] = []
    /// The bound outputs, by bind id.
    public private(set) var outputs: [BoundTensor] = []
    private var blobIndex: [String: Int] = [:]

    /// Whether `bytes` look like a loadable rather than a `.dla` file or anything else: a
    /// flatbuffer whose root offset is aligned and inside the file. Reading decides for good.
    public static func looksLikeLoadable(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 8 else { return false }
        let root = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        return root >= 4 && root % 4 == 0 && root < bytes.count
    }

    /// Reads and checks a loadable; throws an `NVDLALoadableError` naming the field at fault.
    public init(bytes: [UInt8], limits: Limits = Limits()) throws(NVDLALoadableError) {
        let reader = try FlatBufferReader(bytes)
        let root = try reader.root("loadable")
        guard let versionBytes = try root.structBytes(0, "version", size: 3, alignment: 1) else {
            throw NVDLALoadableError(.invalid, field: "loadable.version", "required field is missing")
        }
        version = Self.version(versionBytes)
        tasks = try Self.list(root, 1, "task_list", Self.task)
        memories = try Self.list(root, 2, "memory_list", Self.memory)
        addresses = try Self.list(root, 3, "address_list", Self.address)
        events = try Self.list(root, 4, "event_list", Self.event)
        blobs = try Self.list(root, 5, "blobs", Self.blob)
        tensors = try Self.list(root, 6, "tensor_desc_list", Self.tensor)
        relocations = try Self.list(root, 7, "reloc_list", Self.relocation)
        submits = try Self.list(root, 8, "submit_list", Self.submit)
        try validate(limits)
    }

    /// The blob called `name`, as memories' `contents` name them.
    public func blob(named name: String) -> Blob? {
        blobIndex[name].map { blobs[$0] }
    }

    /// The address-list entry `id` (tasks' `addressList` holds these ids).
    public func address(_ id: Int) -> AddressEntry? {
        addresses.indices.contains(id) ? addresses[id] : nil
    }

    /// The firmware's address list for `task`, as NVIDIA's runtime hands it over
    /// (`Runtime::fillTaskAddressList`): entry `i` is where the descriptors' address index `i`
    /// points (memory id and offset). The network descriptor's indices (operation, surface,
    /// dependency-graph and LUT lists) and every surface's address index count in this list.
    public func addresses(ofTask task: TaskEntry) -> [AddressEntry] {
        task.addressList.map { addresses[$0] }
    }

    /// The bytes memory `id` holds before the first task runs, as NVIDIA's runtime
    /// (`Runtime::loadMemory`) prepares them: for an ALLOC|SET memory in system memory that is not
    /// bound, each content blob copied at its offset; zero everywhere else. Bound memories start
    /// as zeros here: the caller writes the input (or reads the output) there. SRAM memories
    /// start as zeros too (the runtime does not fill them). `id` must be one of `memories`' ids
    /// (0..<memories.count), as every id an address entry holds is.
    public func initialContents(ofMemory id: Int) -> [UInt8] {
        let memory = memories[id]
        var region = [UInt8](repeating: 0, count: Int(memory.size))
        guard memory.flags.contains(.alloc), memory.flags.contains(.set), !memory.isBound, memory.domain == .system else {
            return region
        }
        for (name, offset) in zip(memory.contents, memory.offsets) {
            guard let blob = blob(named: name) else { continue }
            region.replaceSubrange(Int(offset)..<Int(offset) + blob.size, with: blob.data)
        }
        return region
    }

    // MARK: Decoding, one function per table of loadable.fbs

    private static func list<T>(_ root: FlatBufferTable, _ index: Int, _ name: String,
                                _ decode: (FlatBufferTable) throws(NVDLALoadableError) -> T) throws(NVDLALoadableError) -> [T] {
        var entries: [T] = []
        for table in try root.tables(index, name) ?? [] { entries.append(try decode(table)) }
        return entries
    }

    private static func version(_ bytes: ArraySlice<UInt8>) -> Version {
        Version(major: bytes[bytes.startIndex], minor: bytes[bytes.startIndex + 1], subMinor: bytes[bytes.startIndex + 2])
    }

    private static func task(_ t: FlatBufferTable) throws(NVDLALoadableError) -> TaskEntry {
        TaskEntry(id: Int(try t.scalar(0, "id", as: UInt16.self)),
                  interface: Interface(rawValue: try t.scalar(1, "interface")),
                  instance: try t.scalar(2, "instance"),
                  addressList: (try t.scalars(3, "address_list", as: UInt16.self) ?? []).map(Int.init),
                  preActions: (try t.scalars(4, "pre_actions", as: UInt16.self) ?? []).map(Int.init),
                  postActions: (try t.scalars(5, "post_actions", as: UInt16.self) ?? []).map(Int.init))
    }

    private static func memory(_ t: FlatBufferTable) throws(NVDLALoadableError) -> MemoryEntry {
        MemoryEntry(id: Int(try t.scalar(0, "id", as: UInt16.self)),
                    domain: MemoryDomain(rawValue: try t.scalar(1, "domain")),
                    flags: MemoryFlags(rawValue: try t.scalar(2, "flags")),
                    size: try t.scalar(3, "size"),
                    alignment: try t.scalar(4, "alignment"),
                    contents: try t.strings(5, "contents") ?? [],
                    offsets: try t.scalars(6, "offsets") ?? [],
                    bindID: Int(try t.scalar(7, "bind_id", as: UInt16.self)),
                    tensorDescriptorID: Int(try t.scalar(8, "tensor_desc_id", as: UInt16.self)))
    }

    private static func address(_ t: FlatBufferTable) throws(NVDLALoadableError) -> AddressEntry {
        AddressEntry(id: Int(try t.scalar(0, "id", as: UInt16.self)),
                     memoryID: Int(try t.scalar(1, "mem_id", as: UInt16.self)),
                     offset: try t.scalar(2, "offset"),
                     size: try t.scalar(3, "size"))
    }

    private static func event(_ t: FlatBufferTable) throws(NVDLALoadableError) -> EventEntry {
        EventEntry(id: Int(try t.scalar(0, "id", as: UInt16.self)),
                   type: try t.scalar(1, "type"),
                   target: try t.scalar(2, "target"),
                   value: try t.scalar(3, "val"),
                   op: EventOp(rawValue: try t.scalar(4, "op")))
    }

    private static func blob(_ t: FlatBufferTable) throws(NVDLALoadableError) -> Blob {
        guard let name = try t.string(0, "name") else {
            throw NVDLALoadableError(.invalid, field: "\(t.path).name", "a blob needs a name")
        }
        let size = try t.scalar(1, "size", as: UInt64.self)
        let data = try t.bytes(5, "data") ?? []
        guard size == UInt64(data.count) else {
            throw NVDLALoadableError(.invalid, field: "\(t.path).data", "blob '\(name)' declares \(size) bytes but holds \(data.count)")
        }
        let version = try t.structBytes(4, "version", size: 3, alignment: 1).map(Self.version) ?? Version(major: 0, minor: 0, subMinor: 0)
        return Blob(name: name, interface: Interface(rawValue: try t.scalar(2, "interface")),
                    subInterface: try t.scalar(3, "sub_interface"), version: version, data: data)
    }

    private static func tensor(_ t: FlatBufferTable) throws(NVDLALoadableError) -> TensorDescriptor {
        var strides: [UInt32] = []
        for index in 0..<8 { strides.append(try t.scalar(14 + index, "stride_\(index)")) }
        let descriptor = TensorDescriptor(
            name: try t.string(0, "name") ?? "",
            id: Int(try t.scalar(1, "id", as: UInt16.self)),
            memoryID: Int(try t.scalar(2, "mem_id", as: UInt16.self)),
            size: try t.scalar(3, "size"),
            offset: try t.scalar(4, "offset"),
            dataFormat: DataFormat(rawValue: try t.scalar(5, "data_format")),
            dataType: DataType(rawValue: try t.scalar(6, "data_type")),
            dataCategory: DataCategory(rawValue: try t.scalar(7, "data_category")),
            pixelFormat: PixelFormat(rawValue: try t.scalar(8, "pixel_format")),
            pixelMapping: PixelMapping(rawValue: try t.scalar(9, "pixel_mapping")),
            n: try t.scalar(10, "n"), c: try t.scalar(11, "c"), h: try t.scalar(12, "h"), w: try t.scalar(13, "w"),
            strides: strides)
        guard min(descriptor.n, descriptor.c, descriptor.h, descriptor.w) >= 0 else {
            throw NVDLALoadableError(.invalid, field: t.path, "tensor '\(descriptor.name)' has a negative dimension (n \(descriptor.n), c \(descriptor.c), h \(descriptor.h), w \(descriptor.w))")
        }
        return descriptor
    }

    private static func relocation(_ t: FlatBufferTable) throws(NVDLALoadableError) -> RelocationEntry {
        RelocationEntry(addressID: Int(try t.scalar(0, "address_id", as: UInt16.self)),
                        writeID: Int(try t.scalar(1, "write_id", as: UInt16.self)),
                        offset: try t.scalar(2, "offset"),
                        interface: Interface(rawValue: try t.scalar(3, "interface")),
                        subInterface: try t.scalar(4, "sub_interface"),
                        relocationType: try t.scalar(5, "reloc_type"))
    }

    private static func submit(_ t: FlatBufferTable) throws(NVDLALoadableError) -> SubmitEntry {
        SubmitEntry(id: Int(try t.scalar(0, "id", as: UInt16.self)),
                    taskIDs: (try t.scalars(1, "task_id", as: UInt16.self) ?? []).map(Int.init))
    }

    // MARK: Checks across tables

    private mutating func validate(_ limits: Limits) throws(NVDLALoadableError) {
        try Self.requireIDsAreIndices(tasks.map(\.id), "task_list")
        try Self.requireIDsAreIndices(memories.map(\.id), "memory_list")
        try Self.requireIDsAreIndices(addresses.map(\.id), "address_list")
        try Self.requireIDsAreIndices(events.map(\.id), "event_list")
        try Self.requireIDsAreIndices(tensors.map(\.id), "tensor_desc_list")
        try Self.requireIDsAreIndices(submits.map(\.id), "submit_list")

        for (index, blob) in blobs.enumerated() {
            guard blobIndex.updateValue(index, forKey: blob.name) == nil else {
                throw NVDLALoadableError(.invalid, field: "loadable.blobs[\(index)]", "a second blob is named '\(blob.name)'")
            }
        }

        var totalMemory: UInt64 = 0
        for memory in memories {
            let field = "loadable.memory_list[\(memory.id)]"
            guard MemoryDomain.names[memory.domain.rawValue] != nil else {
                throw NVDLALoadableError(.invalid, field: field + ".domain", "unknown memory domain \(memory.domain.rawValue)")
            }
            guard MemoryFlags.defined.isSuperset(of: memory.flags) else {
                throw NVDLALoadableError(.invalid, field: field + ".flags", "undefined flag bits in \(memory.flags.rawValue)")
            }
            let (sum, overflow) = totalMemory.addingReportingOverflow(memory.size)
            guard !overflow, sum <= limits.maximumMemoryBytes else {
                throw NVDLALoadableError(.limitExceeded, field: field + ".size", "memories total more than the limit of \(limits.maximumMemoryBytes) bytes")
            }
            totalMemory = sum
            if memory.flags.contains(.set) { try checkContents(of: memory, field) }
        }

        for address in addresses {
            let field = "loadable.address_list[\(address.id)]"
            try Self.requireIndex(address.memoryID, memories.count, field + ".mem_id", "memory")
            guard address.offset <= memories[address.memoryID].size else {
                throw NVDLALoadableError(.invalid, field: field + ".offset", "offset \(address.offset) lies past the end of memory \(address.memoryID) (\(memories[address.memoryID].size) bytes)")
            }
        }
        for task in tasks {
            let field = "loadable.task_list[\(task.id)]"
            for (index, id) in task.addressList.enumerated() { try Self.requireIndex(id, addresses.count, "\(field).address_list[\(index)]", "address") }
            for (index, id) in task.preActions.enumerated() { try Self.requireIndex(id, events.count, "\(field).pre_actions[\(index)]", "event") }
            for (index, id) in task.postActions.enumerated() { try Self.requireIndex(id, events.count, "\(field).post_actions[\(index)]", "event") }
        }
        for submit in submits {
            for (index, id) in submit.taskIDs.enumerated() {
                try Self.requireIndex(id, tasks.count, "loadable.submit_list[\(submit.id)].task_id[\(index)]", "task")
            }
        }
        for tensor in tensors {
            let field = "loadable.tensor_desc_list[\(tensor.id)]"
            try Self.requireIndex(tensor.memoryID, memories.count, field + ".mem_id", "memory")
            let (end, overflow) = tensor.offset.addingReportingOverflow(tensor.size)
            guard !overflow, end <= memories[tensor.memoryID].size else {
                throw NVDLALoadableError(.invalid, field: field, "tensor '\(tensor.name)' (\(tensor.size) bytes at offset \(tensor.offset)) does not fit in memory \(tensor.memoryID) (\(memories[tensor.memoryID].size) bytes)")
            }
        }
        for (index, relocation) in relocations.enumerated() {
            let field = "loadable.reloc_list[\(index)]"
            try Self.requireIndex(relocation.addressID, addresses.count, field + ".address_id", "address")
            try Self.requireIndex(relocation.writeID, addresses.count, field + ".write_id", "address")
        }
        inputs = try bound(.input, "input")
        outputs = try bound(.output, "output")
    }

    /// A SET memory's contents: as many offsets as names, each blob present and inside the region.
    private func checkContents(of memory: MemoryEntry, _ field: String) throws(NVDLALoadableError) {
        guard memory.contents.count == memory.offsets.count else {
            throw NVDLALoadableError(.invalid, field: field, "\(memory.contents.count) content blobs but \(memory.offsets.count) offsets")
        }
        for (index, (name, offset)) in zip(memory.contents, memory.offsets).enumerated() {
            guard let blob = blob(named: name) else {
                throw NVDLALoadableError(.invalid, field: "\(field).contents[\(index)]", "no blob is named '\(name)'")
            }
            let (end, overflow) = offset.addingReportingOverflow(UInt64(blob.size))
            guard !overflow, end <= memory.size else {
                throw NVDLALoadableError(.invalid, field: "\(field).offsets[\(index)]", "blob '\(name)' (\(blob.size) bytes) at offset \(offset) does not fit in the memory's \(memory.size) bytes")
            }
        }
    }

    /// The memories bound in one direction, sorted by bind id, which must be exactly 0…n-1
    /// (an input flag wins over an output flag, as in NVIDIA's runtime).
    private func bound(_ direction: MemoryFlags, _ what: String) throws(NVDLALoadableError) -> [BoundTensor] {
        let candidates = memories.filter { memory in
            direction == .input ? memory.flags.contains(.input) : memory.flags.contains(.output) && !memory.flags.contains(.input)
        }
        var bound: [BoundTensor] = []
        for memory in candidates.sorted(by: { $0.bindID < $1.bindID }) {
            let field = "loadable.memory_list[\(memory.id)]"
            guard memory.bindID == bound.count else {
                throw NVDLALoadableError(.invalid, field: field + ".bind_id", "\(what) bind ids must be 0…\(candidates.count - 1) without repeats; found \(memory.bindID)")
            }
            try Self.requireIndex(memory.tensorDescriptorID, tensors.count, field + ".tensor_desc_id", "tensor descriptor")
            bound.append(BoundTensor(bindID: memory.bindID, memoryID: memory.id, tensor: tensors[memory.tensorDescriptorID]))
        }
        return bound
    }

    private static func requireIDsAreIndices(_ ids: [Int], _ list: String) throws(NVDLALoadableError) {
        for (index, id) in ids.enumerated() where id != index {
            throw NVDLALoadableError(.invalid, field: "loadable.\(list)[\(index)].id", "id \(id) differs from its position \(index) (entries are looked up by position)")
        }
    }

    private static func requireIndex(_ id: Int, _ count: Int, _ field: @autoclosure () -> String, _ what: String) throws(NVDLALoadableError) {
        guard id < count else {
            throw NVDLALoadableError(.invalid, field: field(), "\(what) \(id) does not exist (there are \(count))")
        }
    }
}
