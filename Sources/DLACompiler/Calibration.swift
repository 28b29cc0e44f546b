#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DLANumerics

/// How activation ranges are taken from calibration data.
public enum CalibrationMethod: Sendable, Hashable, CustomStringConvertible {
    /// The observed minimum and maximum.
    case minMax
    /// The given percentile of the values (e.g. 99.99) at the top and its mirror at the bottom:
    /// rare outliers no longer stretch the range.
    case percentile(Double)
    /// TensorRT's entropy calibration: the clipping threshold whose 128-level quantized
    /// histogram of |x| diverges least (Kullback–Leibler) from the 2048-bin original.
    case entropy

    public var description: String {
        switch self {
        case .minMax: "min/max"
        case .percentile(let p): "percentile \(p)"
        case .entropy: "entropy"
        }
    }
}

/// Runs the float graph on calibration inputs and derives a quantization for every tensor the
/// accelerator materializes.
struct Calibrator {
    let graph: Graph
    let plan: LoweringPlan
    let method: CalibrationMethod
    /// Tensors that must be symmetric (zero point 0): CDP's input and output.
    let symmetric: Set<String>

    /// Values kept per tensor for percentile and entropy: a strided sample above this.
    static let sampleLimit = 1 << 20

    func quantizations(inputs: [FloatBatch], precision: Precision,
                       progress: (String) -> Void) throws(CompilerError) -> [String: TensorQuantization] {
        guard inputs.count == graph.inputs.count else {
            throw .calibration("\(inputs.count) calibration array(s) for a model with \(graph.inputs.count) inputs (\(graph.inputs.map(\.name).joined(separator: ", "))); give one per input, in that order")
        }
        let rows = inputs[0].shape.first ?? 0
        guard rows > 0 else { throw .calibration("the calibration array has no rows") }
        for (input, batch) in zip(graph.inputs, inputs) where batch.shape.first != rows {
            throw .calibration("input '\(input.name)' has \(batch.shape.first ?? 0) calibration rows, the first input \(rows)")
        }
        let interpreter = try FloatInterpreter(graph: graph)
        let wanted = Set(plan.boundaries).subtracting(plan.inheritsQuantization.keys)
        var statistics: [String: TensorStatistics] = [:]
        let chunk = 32
        var start = 0
        while start < rows {
            let end = min(rows, start + chunk)
            var feed: [String: FloatBatch] = [:]
            for (input, all) in zip(graph.inputs, inputs) {
                let rowSize = all.values.count / rows
                let batch = FloatBatch(shape: [end - start] + all.shape.dropFirst(), values: Array(all.values[(start * rowSize)..<(end * rowSize)]))
                statistics[input.name, default: TensorStatistics()].add(batch.values, keepValues: method != .minMax)
                feed[input.name] = batch
            }
            _ = try interpreter.run(feed) { name, value in
                if wanted.contains(name) { statistics[name, default: TensorStatistics()].add(value.values, keepValues: method != .minMax) }
            }
            start = end
            progress("calibrating: \(end)/\(rows) samples")
        }
        var result: [String: TensorQuantization] = [:]
        for name in plan.boundaries {
            if let source = plan.inheritsQuantization[name] {
                if let inherited = result[source] { result[name] = inherited }
                continue
            }
            guard let stats = statistics[name] else { continue }
            // Graph inputs keep their whole range: clipping pixels (bounded, not heavy-tailed)
            // only loses information.
            let isInput = graph.inputs.contains { $0.name == name }
            let (low, high) = stats.range(isInput ? .minMax : method)
            result[name] = Self.quantization(low: low, high: high, precision: precision, symmetric: symmetric.contains(name))
        }
        return result
    }

    static func quantization(low: Float, high: Float, precision: Precision, symmetric: Bool) -> TensorQuantization {
        let low = min(low, 0), high = max(high, 0)
        switch precision {
        case .int8, .fp16:
            if symmetric {
                let amax = max(-low, high)
                return TensorQuantization(kind: .int8, scale: amax > 0 ? amax / 127 : 1)
            }
            guard high > low else { return TensorQuantization(kind: .int8, scale: 1, zeroPoint: 0) }
            let scale = (high - low) / 255
            let zeroPoint = Int32(max(-128, min(127, (-128 - low / scale).rounded(.toNearestOrEven))))
            return TensorQuantization(kind: .int8, scale: scale, zeroPoint: zeroPoint)
        case .fp8e4m3, .fp8e5m2:
            let format: FP8Format = precision == .fp8e4m3 ? .e4m3fn : .e5m2
            let amax = max(-low, high)
            return TensorQuantization(kind: precision == .fp8e4m3 ? .fp8e4m3 : .fp8e5m2,
                                      scale: amax > 0 ? amax / FP8.maxFinite(format) : 1)
        }
    }
}

/// Running range of one tensor, plus a bounded sample of its values for percentile / entropy.
struct TensorStatistics {
    var low = Float.infinity
    var high = -Float.infinity
    var sample: [Float] = []
    var seen = 0

    mutating func add(_ values: [Float], keepValues: Bool) {
        for value in values where value.isFinite {
            low = min(low, value)
            high = max(high, value)
        }
        guard keepValues else { return }
        // Reservoir-free striding: keep every k-th value once the sample is full, k doubling.
        let stride = max(1, (seen + values.count) / Calibrator.sampleLimit + 1)
        var index = (stride - seen % stride) % stride
        while index < values.count {
            if values[index].isFinite { sample.append(values[index]) }
            index += stride
        }
        seen += values.count
    }

    func range(_ method: CalibrationMethod) -> (Float, Float) {
        guard low <= high else { return (0, 0) }
        switch method {
        case .minMax:
            return (low, high)
        case .percentile(let p):
            let sorted = sample.sorted()
            guard !sorted.isEmpty else { return (low, high) }
            let fraction = max(0, min(1, p / 100))
            let top = Int((Double(sorted.count - 1) * fraction).rounded())
            let bottom = Int((Double(sorted.count - 1) * (1 - fraction)).rounded())
            return (sorted[bottom], sorted[top])
        case .entropy:
            let threshold = Self.entropyThreshold(sample.map(abs))
            return (max(low, -threshold), min(high, threshold))
        }
    }

    /// TensorRT-style KL-divergence calibration on |x| (2048 bins, 128 quantized levels).
    static func entropyThreshold(_ magnitudes: [Float]) -> Float {
        let amax = magnitudes.max() ?? 0
        guard amax > 0 else { return 0 }
        let bins = 2048, levels = 128
        let width = amax / Float(bins)
        var histogram = [Double](repeating: 0, count: bins)
        for value in magnitudes { histogram[min(bins - 1, Int(value / width))] += 1 }
        var best = bins, bestDivergence = Double.infinity
        for edge in stride(from: levels, through: bins, by: 16) {
            var reference = Array(histogram[0..<edge])
            reference[edge - 1] += histogram[edge...].reduce(0, +)
            // Quantize the first `edge` bins into `levels` groups, spreading each group's count
            // over its nonzero bins.
            var candidate = [Double](repeating: 0, count: edge)
            let perLevel = Double(edge) / Double(levels)
            for level in 0..<levels {
                let from = Int(Double(level) * perLevel), to = level == levels - 1 ? edge : Int(Double(level + 1) * perLevel)
                let slice = histogram[from..<to]
                let total = slice.reduce(0, +)
                let nonzero = slice.filter { $0 > 0 }.count
                guard nonzero > 0 else { continue }
                for i in from..<to where histogram[i] > 0 { candidate[i] = total / Double(nonzero) }
            }
            let p = reference.reduce(0, +), q = candidate.reduce(0, +)
            guard p > 0, q > 0 else { continue }
            var divergence = 0.0
            for i in 0..<edge where reference[i] > 0 {
                let pi = reference[i] / p
                let qi = candidate[i] / q
                divergence += qi > 0 ? pi * log(pi / qi) : pi * 20
            }
            if divergence < bestDivergence {
                bestDivergence = divergence
                best = edge
            }
        }
        return (Float(best) + 0.5) * width
    }
}
