import DLAEngine
import NVDLALoadable

/// Runs an NVDLA loadable's tasks in submit order on emulated memory, as NVIDIA's runtime would
/// submit them to the firmware: each memory starts with its initial contents, bound inputs are
/// written by the caller, and each DLA task's firmware network runs through `NVDLATaskRunner`.
public struct NVDLALoadableRunner: Sendable {
    public let loadable: NVDLALoadableFile
    /// The memories as they are now (after `run`, the outputs are in place).
    public private(set) var memories: [Int: [UInt8]]

    public init(_ loadable: NVDLALoadableFile) {
        self.loadable = loadable
        var memories: [Int: [UInt8]] = [:]
        for memory in loadable.memories { memories[memory.id] = loadable.initialContents(ofMemory: memory.id) }
        self.memories = memories
    }

    /// Writes `bytes` (already in the input tensor's memory layout) into bound input `bindID`.
    public mutating func bindInput(_ bindID: Int, bytes: [UInt8]) throws(NVDLARuntimeError) {
        guard let input = loadable.inputs.first(where: { $0.bindID == bindID }) else {
            throw .invalid(what: "input \(bindID)", detail: "the loadable binds \(loadable.inputs.count) input(s)")
        }
        let offset = Int(input.tensor.offset), size = Int(input.tensor.size)
        let memorySize = memories[input.memoryID]!.count
        guard bytes.count == size, offset <= memorySize, size <= memorySize - offset else {
            throw .invalid(what: "input \(bindID) (\(input.tensor.name))", detail: "\(bytes.count) bytes for a tensor of \(size) bytes at offset \(offset) of a \(memorySize)-byte memory")
        }
        memories[input.memoryID]!.replaceSubrange(offset..<(offset + size), with: bytes)
    }

    /// The bytes of bound output `bindID` (its whole tensor, in the tensor's memory layout).
    public func outputBytes(_ bindID: Int) throws(NVDLARuntimeError) -> [UInt8] {
        guard let output = loadable.outputs.first(where: { $0.bindID == bindID }) else {
            throw .invalid(what: "output \(bindID)", detail: "the loadable binds \(loadable.outputs.count) output(s)")
        }
        let offset = Int(output.tensor.offset), size = Int(output.tensor.size)
        let memory = memories[output.memoryID]!
        guard offset <= memory.count, size <= memory.count - offset else {
            throw .outOfBounds(what: "output \(bindID)", detail: "\(size) bytes at offset \(offset) of a \(memory.count)-byte memory")
        }
        return Array(memory[offset..<(offset + size)])
    }

    /// Runs every task in submit order on `profile`: DLA tasks through their firmware networks,
    /// CPU-emulator (EMU1) tasks as `NVDLAEmulatorTask`. Reports each DLA task's emulated cost
    /// (emulator tasks run on the host and cost no accelerator cycles).
    public mutating func run(profile: HardwareProfile) throws(NVDLARuntimeError) -> [NVDLARunReport] {
        var reports: [NVDLARunReport] = []
        let order = loadable.submits.isEmpty ? loadable.tasks.map(\.id) : loadable.submits.flatMap(\.taskIDs)
        for taskID in order {
            guard let task = loadable.tasks.first(where: { $0.id == taskID }) else {
                throw .invalid(what: "submit list", detail: "task \(taskID) does not exist")
            }
            guard task.interface == .dla1 || task.interface == .emu1 else {
                throw .unsupported(what: "task \(taskID) for the \(task.interface) interface")
            }
            var memory = try self.memory(of: task)
            if task.interface == .emu1 {
                try NVDLAEmulatorTask(memory: memory, taskID: taskID).run(memory: &memory)
                memories = memory.memories
                continue
            }
            let network = try network(of: task, in: memory)
            reports.append(try NVDLATaskRunner.run(network, memory: &memory, profile: profile))
            memories = memory.memories
        }
        return reports
    }

    /// The firmware network of DLA task `taskID` as its memories hold it now (before `run`: as
    /// the loadable ships it), for inspection.
    public func network(ofTask taskID: Int) throws(NVDLARuntimeError) -> FirmwareNetwork {
        guard let task = loadable.tasks.first(where: { $0.id == taskID }), task.interface == .dla1 else {
            throw .invalid(what: "task \(taskID)", detail: "not a DLA task of this loadable")
        }
        return try network(of: task, in: try memory(of: task))
    }

    private func memory(of task: NVDLALoadableFile.TaskEntry) throws(NVDLARuntimeError) -> NVDLAMemory {
        var addresses: [Int: NVDLAMemory.Address] = [:]
        for a in loadable.addresses {
            addresses[a.id] = NVDLAMemory.Address(memory: a.memoryID, offset: Int(a.offset), size: Int(a.size))
        }
        return try NVDLAMemory(memories: memories, addresses: addresses, taskAddresses: task.addressList)
    }

    private func network(of task: NVDLALoadableFile.TaskEntry, in memory: NVDLAMemory) throws(NVDLARuntimeError) -> FirmwareNetwork {
        let version = try firmwareVersion(task)
        do {
            return try FirmwareNetwork(version: version) { (index: Int) throws(FirmwareDescriptorError) -> [UInt8] in
                do {
                    return try memory.region(atTaskIndex: index)
                } catch {
                    throw .invalidField(what: "task \(task.id) address-list index", found: "\(index)", expected: "one of the task's \(task.addressList.count) addresses")
                }
            }
        } catch {
            throw .descriptor(error)
        }
    }

    /// The firmware interface version of a task: that of the blob holding its network descriptor.
    func firmwareVersion(_ task: NVDLALoadableFile.TaskEntry) throws(NVDLARuntimeError) -> FirmwareInterfaceVersion {
        guard let first = task.addressList.first, let address = loadable.address(first),
              let memory = loadable.memories.first(where: { $0.id == address.memoryID }),
              let name = memory.contents.first, let blob = loadable.blob(named: name) else {
            throw .invalid(what: "task \(task.id)", detail: "no blob holds its network descriptor (address-list index 0)")
        }
        return FirmwareInterfaceVersion(major: blob.version.major, minor: blob.version.minor, subMinor: blob.version.subMinor)
    }
}
