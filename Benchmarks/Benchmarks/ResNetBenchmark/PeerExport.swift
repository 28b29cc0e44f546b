#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAEngine
import DLAFormat

/// Writes the network for `Benchmarks/peers/resnet18_ort.py`: per layer its INT8 weights, weight
/// scales and real folded bias as .npy, the layer geometry and activation scales as JSON, the
/// input, and dlad's logits (fc's INT8 codes × scale) and output (softmax) for comparison.
enum PeerExport {
    struct LayerEntry: Encodable {
        var name: String
        var outputChannels: Int
        var inputChannels: Int
        var kernel: Int
        var stride: Int
        var padding: Int
    }

    struct Manifest: Encodable {
        var inputSize: Int
        var macs: Int
        var layers: [LayerEntry]
        var activationScales: [String: Float]
    }

    static func write(weights: ResNet18Weights, macs: Int, scales: ResNet18Graph.Scales, input: EngineValue,
                      output: EngineValue, logits: [Float], to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for layer in weights.layers {
            let shape = layer.name == "fc" ? [layer.outputChannels, layer.inputChannels]
                                           : [layer.outputChannels, layer.inputChannels, layer.kernel, layer.kernel]
            try NPY.write(try NPYArray(int8: layer.weights, shape: shape), path: "\(directory)/\(layer.name).weight.npy")
            try NPY.write(try NPYArray(float32: layer.weightScales, shape: [layer.outputChannels]), path: "\(directory)/\(layer.name).weight_scale.npy")
            try NPY.write(try NPYArray(float32: layer.bias, shape: [layer.outputChannels]), path: "\(directory)/\(layer.name).bias.npy")
        }
        for (value, name) in [(input, "input"), (output, "dlad_output")] {
            guard case .float32(let tensor) = value else { throw BenchmarkError("export \(name): expected float32, found \(value.typeName)") }
            try NPY.write(try NPYArray(float32: tensor.scalars, shape: tensor.shape), path: "\(directory)/\(name).npy")
        }
        try NPY.write(try NPYArray(float32: logits, shape: [1, logits.count]), path: "\(directory)/dlad_logits.npy")
        let size = input.shape.last ?? 0
        let manifest = Manifest(
            inputSize: size, macs: macs,
            layers: weights.layers.map { LayerEntry(name: $0.name, outputChannels: $0.outputChannels, inputChannels: $0.inputChannels,
                                                   kernel: $0.kernel, stride: $0.stride, padding: $0.padding) },
            activationScales: scales)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: "\(directory)/manifest.json"))
    }
}
