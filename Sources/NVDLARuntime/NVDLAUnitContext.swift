import DLAEngine
import DLANumerics
import NVDLALoadable

/// Runs one pipeline (a root operation and those fused behind it), passing the cube that flows
/// between fused units on the fly instead of through memory.
struct NVDLAUnitContext {
    let network: FirmwareNetwork
    let profile: HardwareProfile
    let model: PerformanceModel
    var reports: [NVDLAOperationReport] = []
    /// The result an operation hands to the unit fused behind it: `[C, H, W]` integers.
    var flowing: Tensor<Int32>?
    /// The same for FP16 pipelines: CACC's FP32 values, or FP16 values as Float.
    var flowingFloat: Tensor<Float>?

    init(network: FirmwareNetwork, profile: HardwareProfile, model: PerformanceModel) {
        self.network = network
        self.profile = profile
        self.model = model
    }

    mutating func run(_ pipeline: [Int], memory: inout NVDLAMemory) throws(NVDLARuntimeError) {
        for index in pipeline {
            let op = network.operations[index]
            let name = "\(op.common.type) operation \(index)"
            switch op.unit {
            case .bdma(let d): try runBDMA(d, index: index, name: name, memory: &memory)
            case .sdp(let d): try runSDP(d, index: index, name: name, memory: &memory)
            case .pdp(let d): try runPDP(d, index: index, name: name, memory: &memory)
            case .rubik(let d): try runRubik(d, index: index, name: name, memory: &memory)
            case .convolution(let d): try runConvolution(d, index: index, name: name, memory: &memory)
            case .cdp(let d): try runCDP(d, index: index, name: name, memory: &memory)
            }
        }
    }

    mutating func record(_ index: Int, _ summary: String, _ cost: OperationCost) {
        reports.append(NVDLAOperationReport(index: index, type: network.operations[index].common.type, summary: summary, cost: cost))
    }

    /// Runs engine code, naming the operation in its errors.
    func engine<R>(_ name: String, _ body: () throws(EngineError) -> R) throws(NVDLARuntimeError) -> R {
        do {
            return try body()
        } catch {
            throw .engine(operation: name, error)
        }
    }

    /// The input cube of a unit: from memory, or on the fly from the unit it is fused behind.
    mutating func input(_ cube: FirmwareDataCube, precision: FirmwarePrecision, memory: NVDLAMemory,
                        name: String) throws(NVDLARuntimeError) -> Tensor<Int32> {
        if cube.memoryType == .hardware {
            guard let flowing else {
                throw .invalid(what: name, detail: "reads its input on the fly but no unit is fused in front of it")
            }
            self.flowing = nil
            guard flowing.shape == [cube.channel, cube.height, cube.width] else {
                throw .invalid(what: name, detail: "input cube \(cube.channel)×\(cube.height)×\(cube.width) differs from the fused producer's \(flowing.shape)")
            }
            return flowing
        }
        let located = try NVDLAFeatureCube(cube, precision: precision, memory: memory, profile: profile, what: "\(name) input")
        return try engine(name) { () throws(EngineError) in try Tensor(shape: located.shape, scalars: located.gatherIntegers(memory)) }
    }

    /// Writes a result to memory, or hands it on to the unit fused behind.
    mutating func output(_ values: Tensor<Int32>, to cube: FirmwareDataCube, precision: FirmwarePrecision,
                         memory: inout NVDLAMemory, name: String) throws(NVDLARuntimeError) {
        guard values.shape == [cube.channel, cube.height, cube.width] else {
            throw .invalid(what: name, detail: "output cube \(cube.channel)×\(cube.height)×\(cube.width) differs from the computed \(values.shape)")
        }
        if cube.memoryType == .hardware {
            flowing = values
            return
        }
        let located = try NVDLAFeatureCube(cube, precision: precision, memory: memory, profile: profile, what: "\(name) output")
        try located.scatter(values.scalars, into: &memory)
    }

    /// A floating-point (FP16) input cube as Float: from memory, or on the fly.
    mutating func floatInput(_ cube: FirmwareDataCube, memory: NVDLAMemory, name: String) throws(NVDLARuntimeError) -> Tensor<Float> {
        if cube.memoryType == .hardware {
            guard let flowing = flowingFloat else {
                throw .invalid(what: name, detail: "reads its FP16 input on the fly but no FP16 unit is fused in front of it")
            }
            flowingFloat = nil
            guard flowing.shape == [cube.channel, cube.height, cube.width] else {
                throw .invalid(what: name, detail: "input cube \(cube.channel)×\(cube.height)×\(cube.width) differs from the fused producer's \(flowing.shape)")
            }
            return flowing
        }
        let located = try NVDLAFeatureCube(cube, precision: .fp16, memory: memory, profile: profile, what: "\(name) input")
        return try engine(name) { () throws(EngineError) in try Tensor(shape: located.shape, scalars: located.gatherFloats(memory)) }
    }

    /// Writes a floating-point result as FP16 (round to nearest even), or hands it on unrounded.
    mutating func floatOutput(_ values: Tensor<Float>, to cube: FirmwareDataCube, memory: inout NVDLAMemory, name: String) throws(NVDLARuntimeError) {
        guard values.shape == [cube.channel, cube.height, cube.width] else {
            throw .invalid(what: name, detail: "output cube \(cube.channel)×\(cube.height)×\(cube.width) differs from the computed \(values.shape)")
        }
        if cube.memoryType == .hardware {
            flowingFloat = values
            return
        }
        let located = try NVDLAFeatureCube(cube, precision: .fp16, memory: memory, profile: profile, what: "\(name) output")
        try located.scatter(values.scalars.map { Int32(FP16.encode($0)) }, into: &memory)
    }

    func require(_ capability: HardwareProfile.Capabilities, _ unit: String, _ what: String, _ name: String) throws(NVDLARuntimeError) {
        guard profile.capabilities.contains(capability) else {
            throw .engine(operation: name, .unsupported(unit: unit, capability: what, profile: profile.name))
        }
    }
}
