/// One convolution (or the final fully connected layer) of the network with batch norm folded:
/// per-output-channel symmetric INT8 weights, their real scales, and the folded real bias.
struct ConvolutionLayer {
    var name: String
    var outputChannels: Int
    var inputChannels: Int
    var kernel: Int
    var stride: Int
    var padding: Int
    /// `[K, C, R, S]` (fc: `[K, C]` with `kernel` 1).
    var weights: [Int8]
    /// Real weight = code × `weightScales[k]`.
    var weightScales: [Float]
    /// Batch norm's `β − μ·γ/σ`, in real units.
    var bias: [Float]

    var reductionLength: Int { inputChannels * kernel * kernel }
}

/// The weights of an INT8 ResNet-18 (He et al., 2016; torchvision's layout): conv1 7×7/2, four
/// stages of two basic blocks (64, 128, 256, 512 channels; the first block of stages 2–4 strides
/// by 2 and projects its shortcut with a 1×1/2 convolution), fc 512→1000. 11.7 M parameters.
///
/// Random, but shaped like a trained, quantized network so that activations neither vanish nor
/// saturate: weight codes are normal with σ = 32 (a per-channel max of ≈ 127, as symmetric
/// per-channel quantization maps it), real weights follow He initialization (σ = √(2 / fan-in))
/// times a per-channel factor in [0.5, 1.5) (folded batch-norm scales differ by channel), and
/// folded biases are small, N(0, 0.05²).
struct ResNet18Weights {
    var layers: [ConvolutionLayer]

    static let stageChannels = [64, 128, 256, 512]
    static let classes = 1000

    static func random(seed: UInt64) -> ResNet18Weights {
        var generator = SeededGenerator(seed: seed)
        var layers: [ConvolutionLayer] = []
        func add(_ name: String, _ k: Int, _ c: Int, kernel: Int, stride: Int, padding: Int) {
            let fanIn = c * kernel * kernel
            let codeSigma = 32.0
            var weights = [Int8](repeating: 0, count: k * fanIn)
            for i in weights.indices {
                weights[i] = Int8(max(-127, min(127, (generator.gaussian() * codeSigma).rounded())))
            }
            let he = (2.0 / Double(fanIn)).squareRoot()
            let scales = (0..<k).map { _ in Float(he / codeSigma * Double.random(in: 0.5..<1.5, using: &generator)) }
            let bias = (0..<k).map { _ in Float(0.05 * generator.gaussian()) }
            layers.append(ConvolutionLayer(name: name, outputChannels: k, inputChannels: c, kernel: kernel, stride: stride,
                                           padding: padding, weights: weights, weightScales: scales, bias: bias))
        }
        add("conv1", 64, 3, kernel: 7, stride: 2, padding: 3)
        var channels = 64
        for (stage, width) in stageChannels.enumerated() {
            for block in 0..<2 {
                let stride = stage > 0 && block == 0 ? 2 : 1
                let prefix = "layer\(stage + 1).\(block)"
                add(prefix + ".conv1", width, channels, kernel: 3, stride: stride, padding: 1)
                add(prefix + ".conv2", width, width, kernel: 3, stride: 1, padding: 1)
                if stride != 1 || channels != width {
                    add(prefix + ".downsample", width, channels, kernel: 1, stride: stride, padding: 0)
                }
                channels = width
            }
        }
        add("fc", classes, channels, kernel: 1, stride: 1, padding: 0)
        return ResNet18Weights(layers: layers)
    }

    func layer(_ name: String) throws -> ConvolutionLayer {
        guard let layer = layers.first(where: { $0.name == name }) else {
            throw BenchmarkError("no layer named \(name)")
        }
        return layer
    }

    var parameterCount: Int { layers.reduce(0) { $0 + $1.weights.count + $1.bias.count } }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
