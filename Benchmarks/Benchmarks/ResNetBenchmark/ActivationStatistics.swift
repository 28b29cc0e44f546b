import DLAEngine
import DLAFormat

/// How an INT8 activation tensor uses its 256 codes: saturated (±127/−128), zero, and the
/// 99.9th percentile of |code| that calibration aims at.
struct ActivationStatistics: Codable {
    var name: String
    var elements: Int
    var saturatedFraction: Double
    var zeroFraction: Double
    var p999AbsCode: Int

    init(name: String, codes: [Int8]) {
        var histogram = [Int](repeating: 0, count: 129)
        for code in codes { histogram[Int(code.magnitude)] += 1 }
        self.name = name
        elements = codes.count
        saturatedFraction = Double(histogram[127] + histogram[128]) / Double(max(codes.count, 1))
        zeroFraction = Double(histogram[0]) / Double(max(codes.count, 1))
        let target = Int((Double(codes.count) * 0.999).rounded(.up))
        var seen = 0
        var percentile = 128
        for (magnitude, count) in histogram.enumerated() {
            seen += count
            if seen >= target { percentile = magnitude; break }
        }
        p999AbsCode = percentile
    }

    /// The codes of every probed SDP output (graph outputs after the first, in probe order).
    static func probedCodes(_ result: Executor.Result, names: [String]) throws -> [(name: String, codes: [Int8])] {
        guard result.outputs.count == names.count + 1 else {
            throw BenchmarkError("probe run: \(result.outputs.count) outputs, expected \(names.count + 1)")
        }
        return try zip(names, result.outputs.dropFirst()).map { name, value in
            guard case .int8(let tensor) = value else { throw BenchmarkError("probe \(name): expected int8, found \(value.typeName)") }
            return (name, tensor.scalars)
        }
    }
}

/// Chooses every SDP output's scale so that its 99.9th percentile |code| lands near
/// `targetCode`: the real network (weights × scales, biases) is fixed, so a tensor's real values
/// barely depend on the other tensors' quantization and each scale can be set from its own
/// statistics; a few rounds settle the small interactions (and undo saturation, which hides the
/// true percentile: a saturated tensor's scale is quadrupled and measured again).
enum Calibration {
    static let targetCode = 100.0

    static func calibrate(weights: ResNet18Weights, inputSize: Int, input: EngineValue, rounds: Int,
                          initial: ResNet18Graph.Scales) throws -> (scales: ResNet18Graph.Scales, statistics: [ActivationStatistics]) {
        var scales = initial
        var statistics: [ActivationStatistics] = []
        for _ in 0..<rounds {
            statistics = try probe(weights: weights, inputSize: inputSize, scales: scales, input: input).map { ActivationStatistics(name: $0.name, codes: $0.codes) }
            for tensor in statistics {
                guard let scale = scales[tensor.name] else { continue }
                let factor = tensor.saturatedFraction > 0.002 ? 4 : max(Double(tensor.p999AbsCode), 1) / targetCode
                scales[tensor.name] = Float(Double(scale) * factor)
            }
        }
        return (scales, statistics)
    }

    /// Runs the probe model once and returns every SDP output's codes.
    static func probe(weights: ResNet18Weights, inputSize: Int, scales: ResNet18Graph.Scales,
                      input: EngineValue) throws -> [(name: String, codes: [Int8])] {
        let graph = try ResNet18Graph(weights: weights, inputSize: inputSize, scales: scales, probe: true)
        let executor = try Executor(model: try ModelAdapter.compile(try DLAFile.read(try DLAFile.write(graph.model, environment: [:]))),
                                    profile: .nvFull, threads: 1)
        return try ActivationStatistics.probedCodes(try executor.run([input]), names: graph.probeNames)
    }
}
