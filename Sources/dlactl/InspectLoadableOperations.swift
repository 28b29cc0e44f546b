import NVDLALoadable
import NVDLARuntime

extension LoadableReport {
    /// Each DLA task's firmware operations (dla_interface.h), one table per task: unit, what it
    /// computes, its cubes, and its place in the dependency graph. A task whose descriptors cannot
    /// be decoded says why in one line.
    static func operationSections(_ loadable: NVDLALoadableFile) -> [String] {
        let runner = NVDLALoadableRunner(loadable)
        var lines: [String] = []
        for task in loadable.tasks where task.interface == .dla1 {
            lines.append("")
            let network: FirmwareNetwork
            do {
                network = try runner.network(ofTask: task.id)
            } catch {
                lines.append("task \(task.id) operations: cannot decode: \(error)")
                continue
            }
            lines.append("task \(task.id) operations (firmware interface \(network.version), \(network.operations.count) operations, \(network.luts.count) LUTs)")
            var table = TextTable(["#", "unit", "what", "input", "output", "waits", "fused behind", "then"], rightAligned: [0, 5])
            for op in network.operations {
                let (what, input, output) = describe(op.unit)
                let consumers = op.common.consumers.map { "\($0.index)" }.joined(separator: ",")
                table.append(["\(op.common.index)", "\(op.common.type)", what, input, output, "\(op.common.dependencyCount)",
                              op.common.fusedParent.map { "\($0.index)" } ?? "-", consumers.isEmpty ? "-" : consumers])
            }
            lines.append(contentsOf: table.render())
        }
        return lines
    }

    private static func cube(_ c: FirmwareDataCube) -> String {
        c.memoryType == .hardware ? "on the fly" : "\(c.channel)×\(c.height)×\(c.width) @\(c.address)"
    }

    private static func describe(_ unit: FirmwareUnit) -> (String, String, String) {
        switch unit {
        case .bdma(let d):
            return ("\(d.transfers.count) transfer(s)", d.transfers.map { "@\($0.sourceAddress)" }.joined(separator: ","),
                    d.transfers.map { "@\($0.destinationAddress)" }.joined(separator: ","))
        case .convolution(let d):
            return ("\(d.mode == .direct ? "direct" : "Winograd") \(d.inputPrecision) \(d.kernelWidth)×\(d.kernelHeight) stride \(d.strideX)×\(d.strideY) pad \(d.padLeft),\(d.padTop)",
                    cube(d.source), cube(d.destination))
        case .sdp(let d):
            let stages = [("X1", d.x1), ("X2", d.x2), ("Y", d.y)].filter { $0.1.enabled }
                .map { "\($0.0) \($0.1.kind)/\($0.1.mode)\($0.1.activation == .none ? "" : " \($0.1.activation)")" }
            return ("\(d.sourcePrecision)→\(d.destinationPrecision) " + (stages.isEmpty ? "pass-through" : stages.joined(separator: ", ")),
                    cube(d.source), cube(d.destination))
        case .pdp(let d):
            return ("\(d.precision) \(d.mode) \(d.kernelWidth)×\(d.kernelHeight) stride \(d.strideX)×\(d.strideY)", cube(d.source), cube(d.destination))
        case .cdp(let d):
            return ("\(d.inputPrecision) LRN over \(d.localSize), LUT \(d.lutIndex)", cube(d.source), cube(d.destination))
        case .rubik(let d):
            return ("\(d.precision) \(d.mode) \(d.strideX)×\(d.strideY)", cube(d.source), cube(d.destination))
        }
    }
}
