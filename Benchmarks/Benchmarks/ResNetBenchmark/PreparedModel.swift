import DLAEngine
import DLAFormat

/// The benchmark's model made ready to run the way the daemon gets it: built as a `.dla` model,
/// written to bytes, read back and compiled. Only the compiled model and figures are kept, so the
/// builder's and the file's copies of the weights are gone before memory is measured.
struct PreparedModel {
    let compiled: CompiledModel
    let macs: Int
    let fileBytes: Int
    let operationCount: Int
    let weightBytes: Int
    let activationBytes: Int
    let largestOperation: ResNet18Graph.TensorUse
    let peakLiveActivationBytes: Int
    /// `build`, `write`, `read`, `compile`, in milliseconds.
    let phaseMilliseconds: [String: Double]

    init(weights: ResNet18Weights, inputSize: Int, scales: ResNet18Graph.Scales) throws {
        let clock = ContinuousClock()
        var phases: [String: Double] = [:]
        func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            let start = clock.now
            let value = try body()
            phases[name] = milliseconds(clock.now - start)
            return value
        }
        let graph = try timed("build") { try ResNet18Graph(weights: weights, inputSize: inputSize, scales: scales, probe: false) }
        let bytes = try timed("write") { try DLAFile.write(graph.model, environment: [:]) }
        let loaded = try timed("read") { try DLAFile.read(bytes) }
        compiled = try timed("compile") { try ModelAdapter.compile(loaded) }
        macs = graph.macs
        fileBytes = bytes.count
        operationCount = graph.model.graph.operations.count
        weightBytes = graph.weightBytes
        activationBytes = graph.activationBytes.reduce(0) { $0 + $1.bytes }
        largestOperation = graph.largestOperation
        peakLiveActivationBytes = graph.peakLiveActivationBytes
        phaseMilliseconds = phases
    }
}
