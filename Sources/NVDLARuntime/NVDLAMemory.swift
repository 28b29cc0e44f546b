import NVDLALoadable

/// The emulated memories of one task: each loadable memory a flat byte array, reached through the
/// loadable's address list (address id → memory, offset, size) and the task's own address list
/// (the index every firmware descriptor holds → address id).
public struct NVDLAMemory: Sendable {
    /// One address-list entry.
    public struct Address: Sendable, Hashable {
        public let memory: Int
        public let offset: Int
        public let size: Int

        public init(memory: Int, offset: Int, size: Int) {
            self.memory = memory
            self.offset = offset
            self.size = size
        }
    }

    /// Memory id → bytes.
    public private(set) var memories: [Int: [UInt8]]
    /// Address id → entry.
    public let addresses: [Int: Address]
    /// Task address-list index → address id.
    public let taskAddresses: [Int]

    /// Fails when an address names a memory that does not exist or reaches past its end.
    public init(memories: [Int: [UInt8]], addresses: [Int: Address], taskAddresses: [Int]) throws(NVDLARuntimeError) {
        for (id, address) in addresses {
            guard let memory = memories[address.memory] else {
                throw .outOfBounds(what: "address \(id)", detail: "memory \(address.memory) does not exist")
            }
            guard address.offset >= 0, address.size >= 0, address.offset <= memory.count, address.size <= memory.count - address.offset else {
                throw .outOfBounds(what: "address \(id)", detail: "offset \(address.offset) + size \(address.size) past memory \(address.memory) of \(memory.count) bytes")
            }
        }
        for (index, id) in taskAddresses.enumerated() where addresses[id] == nil {
            throw .outOfBounds(what: "task address-list index \(index)", detail: "address \(id) does not exist")
        }
        self.memories = memories
        self.addresses = addresses
        self.taskAddresses = taskAddresses
    }

    /// The address entry behind a task address-list index, reaching to the end of its memory:
    /// the firmware receives bare addresses (NVIDIA's runtime passes no sizes), and loadables leave
    /// the size informational (0 in NVIDIA's MNIST loadable).
    public func address(atTaskIndex index: Int) throws(NVDLARuntimeError) -> Address {
        guard index >= 0, index < taskAddresses.count, let address = addresses[taskAddresses[index]] else {
            throw .outOfBounds(what: "task address-list index \(index)", detail: "the task has \(taskAddresses.count) addresses")
        }
        return Address(memory: address.memory, offset: address.offset, size: memories[address.memory]!.count - address.offset)
    }

    /// The bytes of a task address-list entry (what the firmware reads descriptors from).
    public func region(atTaskIndex index: Int) throws(NVDLARuntimeError) -> [UInt8] {
        let a = try address(atTaskIndex: index)
        return Array(memories[a.memory]![a.offset..<(a.offset + a.size)])
    }

    /// A byte position: memory id and offset in it, after checking that `length` bytes from
    /// `offset` past the address stay inside its address-list entry.
    public func locate(taskIndex: Int, offset: Int, length: Int, what: String) throws(NVDLARuntimeError) -> (memory: Int, offset: Int) {
        let a = try address(atTaskIndex: taskIndex)
        guard offset >= 0, length >= 0, offset <= a.size, length <= a.size - offset else {
            throw .outOfBounds(what: what, detail: "\(length) bytes at offset \(offset) of address index \(taskIndex) (\(a.size) bytes)")
        }
        return (a.memory, a.offset + offset)
    }

    func read(memory: Int, offset: Int, count: Int) -> ArraySlice<UInt8> {
        memories[memory]![offset..<(offset + count)]
    }

    mutating func write(memory: Int, offset: Int, bytes: some Collection<UInt8>) {
        memories[memory]!.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
    }

    mutating func withBytes<R>(memory: Int, _ body: (inout [UInt8]) throws(NVDLARuntimeError) -> R) throws(NVDLARuntimeError) -> R {
        var bytes = memories.removeValue(forKey: memory)!
        defer { memories[memory] = bytes }
        return try body(&bytes)
    }
}
