#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NVDLALoadable

/// `dlactl inspect` of an NVIDIA NVDLA loadable: its bound tensors, then every list the loadable
/// holds as a table (tasks, each DLA task's firmware operations, submit list, events, memories,
/// addresses, tensors, blobs, relocations).
struct LoadableReport {
    let loadable: NVDLALoadableFile
    let fileBytes: Int

    var text: String {
        let l = loadable
        var lines = ["NVDLA loadable  version \(l.version)  \(fileBytes) bytes",
                     "tasks \(l.tasks.count), memories \(l.memories.count) (\(l.memories.reduce(0) { $0 + $1.size }) bytes), blobs \(l.blobs.count)"]
        for (title, bound) in [("input", l.inputs), ("output", l.outputs)] {
            for tensor in bound {
                lines.append("\(title) \(tensor.bindID)  \(Self.describe(tensor.tensor)), memory \(tensor.memoryID)")
            }
        }
        func section(_ title: String, _ table: TextTable) {
            lines.append("")
            lines.append(title)
            lines.append(contentsOf: table.render())
        }

        var tasks = TextTable(["#", "interface", "instance", "addresses", "waits for", "signals"], rightAligned: [0, 2])
        for task in l.tasks {
            tasks.append(["\(task.id)", "\(task.interface)", task.instance < 0 ? "any" : "\(task.instance)",
                          Self.ranges(task.addressList), Self.ranges(task.preActions), Self.ranges(task.postActions)])
        }
        section("tasks", tasks)
        lines.append(contentsOf: Self.operationSections(l))

        var submits = TextTable(["#", "tasks"], rightAligned: [0])
        for submit in l.submits { submits.append(["\(submit.id)", Self.ranges(submit.taskIDs)]) }
        section("submit list (in order; tasks of one entry run concurrently)", submits)

        var events = TextTable(["#", "op", "type", "target", "value"], rightAligned: [0, 2, 3, 4])
        for event in l.events { events.append(["\(event.id)", "\(event.op)", "\(event.type)", "\(event.target)", "\(event.value)"]) }
        section("events", events)

        var memories = TextTable(["#", "domain", "flags", "size", "align", "bind", "tensor", "contents"], rightAligned: [0, 3, 4])
        for memory in l.memories {
            let contents = memory.flags.contains(.set)
                ? zip(memory.contents, memory.offsets).map { $1 == 0 ? $0 : "\($0)@\($1)" }.joined(separator: ", ") : "-"
            memories.append(["\(memory.id)", "\(memory.domain)", "\(memory.flags)", "\(memory.size)", "\(memory.alignment)",
                             memory.isBound ? "\(memory.flags.contains(.input) ? "in" : "out") \(memory.bindID)" : "-",
                             memory.isBound ? "\(memory.tensorDescriptorID)" : "-", contents])
        }
        section("memories", memories)

        var addresses = TextTable(["#", "memory", "offset", "size"], rightAligned: [0, 1, 2, 3])
        for address in l.addresses { addresses.append(["\(address.id)", "\(address.memoryID)", "\(address.offset)", "\(address.size)"]) }
        section("addresses", addresses)

        var tensors = TextTable(["#", "name", "memory", "offset", "size", "n×c×h×w", "type", "format", "pixel", "category", "strides"],
                                rightAligned: [0, 2, 3, 4])
        for tensor in l.tensors {
            tensors.append(["\(tensor.id)", tensor.name, "\(tensor.memoryID)", "\(tensor.offset)", "\(tensor.size)", Self.dims(tensor),
                            "\(tensor.dataType)", "\(tensor.dataFormat)", "\(tensor.pixelFormat)", "\(tensor.dataCategory)",
                            Self.strides(tensor)])
        }
        section("tensors", tensors)

        var blobs = TextTable(["name", "size", "interface", "sub", "version"], rightAligned: [1, 3])
        for blob in l.blobs { blobs.append([blob.name, "\(blob.size)", "\(blob.interface)", "\(blob.subInterface)", "\(blob.version)"]) }
        section("blobs", blobs)

        if !l.relocations.isEmpty {
            var relocations = TextTable(["address", "write", "offset", "interface", "sub", "type"], rightAligned: [0, 1, 2, 4, 5])
            for r in l.relocations {
                relocations.append(["\(r.addressID)", "\(r.writeID)", "\(r.offset)", "\(r.interface)", "\(r.subInterface)", "\(r.relocationType)"])
            }
            section("relocations", relocations)
        }
        return lines.joined(separator: "\n")
    }

    static func describe(_ tensor: NVDLALoadableFile.TensorDescriptor) -> String {
        "\(tensor.name): \(tensor.dataType) \(dims(tensor)) \(tensor.pixelFormat) \(tensor.dataFormat), line stride \(tensor.lineStride), surface stride \(tensor.surfaceStride), \(tensor.size) bytes"
    }

    static func dims(_ tensor: NVDLALoadableFile.TensorDescriptor) -> String {
        "\(tensor.n)×\(tensor.c)×\(tensor.h)×\(tensor.w)"
    }

    /// The strides up to the last non-zero one.
    static func strides(_ tensor: NVDLALoadableFile.TensorDescriptor) -> String {
        let used = tensor.strides.prefix((tensor.strides.lastIndex { $0 != 0 } ?? -1) + 1)
        return used.isEmpty ? "-" : used.map(String.init).joined(separator: ",")
    }

    /// Ids with runs shortened: `[19, 1, 2, 3, 4]` → `19,1-4`; `-` when empty.
    static func ranges(_ ids: [Int]) -> String {
        guard !ids.isEmpty else { return "-" }
        var parts: [String] = []
        var start = ids[0], end = ids[0]
        for id in ids.dropFirst() {
            if id == end + 1 {
                end = id
            } else {
                parts.append(start == end ? "\(start)" : "\(start)-\(end)")
                start = id
                end = id
            }
        }
        parts.append(start == end ? "\(start)" : "\(start)-\(end)")
        return parts.joined(separator: ",")
    }
}

/// `dlactl inspect --json` of a loadable: the lists as the loadable holds them (blob data
/// left out), keys as in loadable.fbs spelled in camel case, enumerations by NVIDIA's names.
struct LoadableSummary: Encodable {
    struct Bound: Encodable { var bindID, memoryID, tensorID: Int; var name: String }
    struct Task: Encodable { var id: Int; var interface: String; var instance: Int; var addressList, preActions, postActions: [Int] }
    struct Submit: Encodable { var id: Int; var taskIDs: [Int] }
    struct Event: Encodable { var id: Int; var op: String; var type: Int; var target: Int; var value: UInt32 }
    struct Memory: Encodable {
        var id: Int; var domain: String; var flags: [String]; var size: UInt64; var alignment: UInt32
        var contents: [String]; var offsets: [UInt64]; var bindID: Int?; var tensorID: Int?
    }
    struct Address: Encodable { var id, memoryID: Int; var offset, size: UInt64 }
    struct Tensor: Encodable {
        var id: Int; var name: String; var memoryID: Int; var offset, size: UInt64; var n, c, h, w: Int32
        var dataType, dataFormat, pixelFormat, pixelMapping, dataCategory: String; var strides: [UInt32]
    }
    struct Blob: Encodable { var name: String; var size: Int; var interface: String; var subInterface: UInt32; var version: String }
    struct Relocation: Encodable { var addressID, writeID: Int; var offset: UInt64; var interface: String; var subInterface: UInt32; var type: Int }

    var kind = "nvdla-loadable"
    var version: String
    var fileBytes: Int
    var inputs, outputs: [Bound]
    var tasks: [Task]
    var submits: [Submit]
    var events: [Event]
    var memories: [Memory]
    var addresses: [Address]
    var tensors: [Tensor]
    var blobs: [Blob]
    var relocations: [Relocation]

    init(_ l: NVDLALoadableFile, fileBytes: Int) {
        func bound(_ b: NVDLALoadableFile.BoundTensor) -> Bound { Bound(bindID: b.bindID, memoryID: b.memoryID, tensorID: b.tensor.id, name: b.tensor.name) }
        version = "\(l.version)"
        self.fileBytes = fileBytes
        inputs = l.inputs.map(bound)
        outputs = l.outputs.map(bound)
        tasks = l.tasks.map { Task(id: $0.id, interface: "\($0.interface)", instance: Int($0.instance), addressList: $0.addressList, preActions: $0.preActions, postActions: $0.postActions) }
        submits = l.submits.map { Submit(id: $0.id, taskIDs: $0.taskIDs) }
        events = l.events.map { Event(id: $0.id, op: "\($0.op)", type: Int($0.type), target: Int($0.target), value: $0.value) }
        memories = l.memories.map { m in
            Memory(id: m.id, domain: "\(m.domain)", flags: m.flags.names, size: m.size, alignment: m.alignment,
                   contents: m.flags.contains(.set) ? m.contents : [], offsets: m.flags.contains(.set) ? m.offsets : [],
                   bindID: m.isBound ? m.bindID : nil, tensorID: m.isBound ? m.tensorDescriptorID : nil)
        }
        addresses = l.addresses.map { Address(id: $0.id, memoryID: $0.memoryID, offset: $0.offset, size: $0.size) }
        tensors = l.tensors.map {
            Tensor(id: $0.id, name: $0.name, memoryID: $0.memoryID, offset: $0.offset, size: $0.size, n: $0.n, c: $0.c, h: $0.h, w: $0.w,
                   dataType: "\($0.dataType)", dataFormat: "\($0.dataFormat)", pixelFormat: "\($0.pixelFormat)", pixelMapping: "\($0.pixelMapping)",
                   dataCategory: "\($0.dataCategory)", strides: $0.strides)
        }
        blobs = l.blobs.map { Blob(name: $0.name, size: $0.size, interface: "\($0.interface)", subInterface: $0.subInterface, version: "\($0.version)") }
        relocations = l.relocations.map {
            Relocation(addressID: $0.addressID, writeID: $0.writeID, offset: $0.offset, interface: "\($0.interface)", subInterface: $0.subInterface, type: Int($0.relocationType))
        }
    }

    func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
