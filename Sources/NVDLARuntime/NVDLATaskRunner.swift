import DLAEngine
import DLANumerics
import NVDLALoadable

/// Runs a firmware network on emulated memory, one operation (or fused pipeline) at a time, in the
/// order the firmware's dependency graph allows. Every unit's arithmetic is DLAEngine's: cubes are
/// gathered out of memory in NVDLA's layout, handed to the engine's unit, and scattered back.
public enum NVDLATaskRunner {
    /// Runs `network` on `memory`, which it updates in place, and reports the emulated cost.
    public static func run(_ network: FirmwareNetwork, memory: inout NVDLAMemory, profile: HardwareProfile) throws(NVDLARuntimeError) -> NVDLARunReport {
        let model = PerformanceModel(profile: profile)
        var reports: [NVDLAOperationReport] = []
        for group in try executionOrder(network) {
            var context = NVDLAUnitContext(network: network, profile: profile, model: model)
            try context.run(group, memory: &memory)
            reports.append(contentsOf: context.reports)
        }
        return NVDLARunReport(profile: profile, operations: reports)
    }

    /// Pipelines in execution order: each is a root operation followed by the operations fused
    /// behind it (a CONV feeding its SDP on the fly, an SDP feeding PDP). A pipeline runs once every
    /// operation outside it that some member waits on (a `dla_consumer` edge) has run; among ready
    /// pipelines the lowest operation index goes first. A cycle between pipelines is an error.
    static func executionOrder(_ network: FirmwareNetwork) throws(NVDLARuntimeError) -> [[Int]] {
        let ops = network.operations
        var root = Array(ops.indices)
        for (i, op) in ops.enumerated() {
            guard let parent = op.common.fusedParent else { continue }
            let parentType = ops[parent.index].common.type
            guard parentType.rawValue + 1 == op.common.type.rawValue, parent.index != i else {
                throw .invalid(what: "\(op.common.type) operation \(i)", detail: "fused behind a \(parentType) operation; the firmware fuses only CONV→SDP and SDP→PDP")
            }
        }
        func rootOf(_ i: Int) -> Int {
            var r = i, steps = 0
            while let parent = ops[r].common.fusedParent, steps <= ops.count {
                r = parent.index
                steps += 1
            }
            return r
        }
        for i in ops.indices { root[i] = rootOf(i) }
        var members: [Int: [Int]] = [:]
        for i in ops.indices { members[root[i], default: []].append(i) }
        var waitsOn: [Int: Set<Int>] = [:]
        for (i, op) in ops.enumerated() {
            for consumer in op.common.consumers where root[consumer.index] != root[i] {
                waitsOn[root[consumer.index], default: []].insert(root[i])
            }
        }
        var done: Set<Int> = []
        var order: [[Int]] = []
        let roots = members.keys.sorted()
        while order.count < roots.count {
            guard let next = roots.first(where: { !done.contains($0) && (waitsOn[$0] ?? []).isSubset(of: done) }) else {
                let left = roots.filter { !done.contains($0) }
                throw .invalid(what: "dependency graph", detail: "operations \(left) wait on each other in a cycle")
            }
            done.insert(next)
            order.append(members[next]!.sorted { pipelineDepth(ops, $0) < pipelineDepth(ops, $1) })
        }
        return order
    }

    private static func pipelineDepth(_ ops: [FirmwareOperation], _ i: Int) -> Int {
        var depth = 0, r = i
        while let parent = ops[r].common.fusedParent, depth <= ops.count {
            r = parent.index
            depth += 1
        }
        return depth
    }
}
