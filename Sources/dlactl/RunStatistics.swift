#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAEngine

/// The executor's statistics summed over the batches of one `dlactl run`, printed by `--stats`
/// as a table and written by `--stats-json` (keys documented in docs/EMULATOR.md).
struct RunStatistics {
    let model: String
    let profile: HardwareProfile
    let batchSize: Int
    private(set) var rows = 0
    private(set) var batches = 0
    private(set) var hostThreads = 0
    private(set) var emulatedCores = 0
    private(set) var instructionSet = ""
    private(set) var emulatedSeconds = 0.0
    private(set) var zeroSkippingSeconds = 0.0
    private(set) var engineNanoseconds: UInt64 = 0
    private var operations: [Operation] = []

    private struct Operation {
        var name: String
        var unit: ExecutionUnit
        var type: String
        var costs: [OperationCost] = []
        var strategies: Set<String> = []
        /// Sum of input density × rows, for the row-weighted mean.
        var weightedDensity = 0.0
        var densityRows = 0
        var hostNanoseconds: UInt64 = 0
    }

    init(model: String, profile: HardwareProfile, batchSize: Int) {
        self.model = model
        self.profile = profile
        self.batchSize = batchSize
    }

    /// Adds one batch's statistics.
    mutating func add(_ stats: ExecutionStats) {
        if operations.isEmpty {
            operations = stats.operations.map { Operation(name: $0.name, unit: $0.unit, type: $0.type) }
        }
        for (index, operation) in stats.operations.enumerated() where index < operations.count {
            operations[index].costs.append(operation.cost)
            if let strategy = operation.strategy { operations[index].strategies.insert(strategy.rawValue) }
            if let density = operation.inputDensity {
                operations[index].weightedDensity += density * Double(stats.batch)
                operations[index].densityRows += stats.batch
            }
            operations[index].hostNanoseconds += operation.hostNanoseconds
        }
        rows += stats.batch
        batches += 1
        hostThreads = max(hostThreads, stats.hostThreads)
        emulatedCores = max(emulatedCores, stats.emulatedCores)
        instructionSet = stats.hostInstructionSet
        emulatedSeconds += stats.emulatedSeconds
        zeroSkippingSeconds += stats.zeroSkippingSeconds
        engineNanoseconds += stats.hostNanoseconds
    }

    private func cost(_ operation: Operation) -> OperationCost {
        OperationCost.total(operation.costs, unit: operation.unit)
    }

    private var total: OperationCost {
        OperationCost.total(operations.map(cost))
    }

    // MARK: - Table

    func table(wallNanoseconds: UInt64) -> String {
        var table = TextTable(["#", "op", "unit", "type", "hw cycles", "0-skip cycles", "MAC util", "DRAM B", "SRAM B", "energy µJ", "host µs", "strategy"],
                              rightAligned: [0, 4, 5, 6, 7, 8, 9, 10])
        for (index, operation) in operations.enumerated() {
            let c = cost(operation)
            table.append(["\(index)", operation.name, operation.unit.rawValue, operation.type, "\(c.hardwareCycles)", "\(c.zeroSkippingCycles)",
                          c.macs > 0 ? InspectReport.percent(c.macUtilization) : "-", "\(c.dramBytes)", "\(c.cbufBytes + c.accumulatorBytes)",
                          InspectReport.fixed(c.energyPicojoules / 1e6, 4), InspectReport.fixed(Double(operation.hostNanoseconds) / 1e3, 1),
                          operation.strategies.sorted().joined(separator: ",")])
        }
        let t = total
        table.append(["", "total", "", "", "\(t.hardwareCycles)", "\(t.zeroSkippingCycles)", t.macs > 0 ? InspectReport.percent(t.macUtilization) : "-",
                      "\(t.dramBytes)", "\(t.cbufBytes + t.accumulatorBytes)", InspectReport.fixed(t.energyPicojoules / 1e6, 4),
                      InspectReport.fixed(Double(operations.reduce(0) { $0 + $1.hostNanoseconds }) / 1e3, 1), ""])
        let clock = InspectReport.fixed(profile.clockHertz / 1e6, 1)
        var lines = table.render()
        lines.append("")
        lines.append("profile                 \(profile.name) (\(emulatedCores) emulated core\(emulatedCores == 1 ? "" : "s") at \(clock) MHz)")
        lines.append("samples                 \(rows) in \(batches) batch\(batches == 1 ? "" : "es") of up to \(batchSize)")
        lines.append("MACs                    \(t.macs) (\(t.effectiveMACs) with nonzero weight and activation, estimated)")
        lines.append("hardware cycles         \(t.hardwareCycles) (NVDLA spends a cycle on every MAC, zeros included; all cores)")
        lines.append("zero-skipping cycles    \(t.zeroSkippingCycles) (an EIE/SCNN-style unit skipping zero weights and activations, estimated)")
        lines.append("MAC utilization         \(t.macs > 0 ? InspectReport.percent(t.macUtilization) : "-")")
        lines.append("DRAM bytes              \(t.dramBytes)")
        lines.append("SRAM bytes              \(t.cbufBytes + t.accumulatorBytes) (CBUF \(t.cbufBytes), accumulators \(t.accumulatorBytes))")
        lines.append("energy                  \(InspectReport.fixed(t.energyPicojoules / 1e6, 4)) µJ hardware, \(InspectReport.fixed(t.zeroSkippingEnergyPicojoules / 1e6, 4)) µJ zero-skipping")
        lines.append("emulated latency        \(durationText(seconds: emulatedSeconds)) hardware, \(durationText(seconds: zeroSkippingSeconds)) zero-skipping (busiest core; \(durationText(seconds: emulatedSeconds / Double(max(rows, 1)))) per sample)")
        lines.append("host time               \(durationText(seconds: Double(engineNanoseconds) / 1e9)) in the engine, \(durationText(seconds: Double(wallNanoseconds) / 1e9)) wall with file I/O (\(instructionSet), \(hostThreads) thread\(hostThreads == 1 ? "" : "s"))")
        return lines.joined(separator: "\n")
    }

    // MARK: - JSON

    struct Report: Encodable {
        var model: String
        var profile: String
        var clockHertz: Double
        var emulatedCores: Int
        var samples: Int
        var batchSize: Int
        var batches: Int
        var hostThreads: Int
        var isa: String
        var total: Total
        var operations: [OperationReport]
    }

    struct Costs: Encodable {
        var macs: Int
        var effectiveMACs: Int
        var hardwareCycles: Int
        var zeroSkippingCycles: Int
        var macUtilization: Double
        var dramBytes: Int
        var cbufBytes: Int
        var accumulatorBytes: Int
        var energyPicojoules: Double
        var zeroSkippingEnergyPicojoules: Double

        init(_ c: OperationCost) {
            macs = c.macs
            effectiveMACs = c.effectiveMACs
            hardwareCycles = c.hardwareCycles
            zeroSkippingCycles = c.zeroSkippingCycles
            macUtilization = c.macUtilization
            dramBytes = c.dramBytes
            cbufBytes = c.cbufBytes
            accumulatorBytes = c.accumulatorBytes
            energyPicojoules = c.energyPicojoules
            zeroSkippingEnergyPicojoules = c.zeroSkippingEnergyPicojoules
        }
    }

    struct Total: Encodable {
        var costs: Costs
        var emulatedLatencyMicros: Double
        var zeroSkippingLatencyMicros: Double
        var hostEngineMicros: Double
        var hostWallMicros: Double

        func encode(to encoder: any Encoder) throws {
            try costs.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(emulatedLatencyMicros, forKey: .emulatedLatencyMicros)
            try container.encode(zeroSkippingLatencyMicros, forKey: .zeroSkippingLatencyMicros)
            try container.encode(hostEngineMicros, forKey: .hostEngineMicros)
            try container.encode(hostWallMicros, forKey: .hostWallMicros)
        }

        private enum Keys: String, CodingKey {
            case emulatedLatencyMicros, zeroSkippingLatencyMicros, hostEngineMicros, hostWallMicros
        }
    }

    struct OperationReport: Encodable {
        var index: Int
        var name: String
        var unit: String
        var type: String
        var costs: Costs
        var strategy: String?
        var inputDensity: Double?
        var hostMicros: Double

        func encode(to encoder: any Encoder) throws {
            try costs.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(index, forKey: .index)
            try container.encode(name, forKey: .name)
            try container.encode(unit, forKey: .unit)
            try container.encode(type, forKey: .type)
            try container.encodeIfPresent(strategy, forKey: .strategy)
            try container.encodeIfPresent(inputDensity, forKey: .inputDensity)
            try container.encode(hostMicros, forKey: .hostMicros)
        }

        private enum Keys: String, CodingKey {
            case index, name, unit, type, strategy, inputDensity, hostMicros
        }
    }

    func report(wallNanoseconds: UInt64) -> Report {
        Report(
            model: model, profile: profile.name, clockHertz: profile.clockHertz, emulatedCores: emulatedCores, samples: rows,
            batchSize: batchSize, batches: batches, hostThreads: hostThreads, isa: instructionSet,
            total: Total(costs: Costs(total), emulatedLatencyMicros: emulatedSeconds * 1e6, zeroSkippingLatencyMicros: zeroSkippingSeconds * 1e6,
                         hostEngineMicros: Double(engineNanoseconds) / 1e3, hostWallMicros: Double(wallNanoseconds) / 1e3),
            operations: operations.enumerated().map { index, operation in
                OperationReport(index: index, name: operation.name, unit: operation.unit.rawValue, type: operation.type, costs: Costs(cost(operation)),
                                strategy: operation.strategies.isEmpty ? nil : operation.strategies.sorted().joined(separator: ","),
                                inputDensity: operation.densityRows == 0 ? nil : operation.weightedDensity / Double(operation.densityRows),
                                hostMicros: Double(operation.hostNanoseconds) / 1e3)
            })
    }

    func json(wallNanoseconds: UInt64) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return String(decoding: try encoder.encode(report(wallNanoseconds: wallNanoseconds)), as: UTF8.self)
        } catch {
            throw CLIError("cannot encode the statistics as JSON: \(error)")
        }
    }
}
