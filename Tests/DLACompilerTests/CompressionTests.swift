@testable import DLACompiler
import DLAFormat
import Testing

@Suite struct CompressionTests {
    static func layer(_ values: [Float], channels: Int) -> LayerWeights {
        LayerWeights.quantizing(values, shape: [channels, values.count / channels], name: "w", precision: .int8, sharedValueLimit: 0)
    }

    @Test func pruningReachesTheSparsityExactly() {
        var random = SystemRandomNumberGenerator()
        var weights = Self.layer((0..<1000).map { _ in Float.random(in: -1...1, using: &random) }, channels: 10)
        _ = WeightCompression.prune(&weights, sparsity: 0.9, threshold: nil)
        #expect(weights.codes.filter { $0 == 0 }.count == 900)
    }

    @Test func pruningKeepsTheLargestMagnitudes() {
        var weights = Self.layer([0.1, -0.9, 0.5, -0.2, 0.05, 0.8, -0.3, 0.7], channels: 1)
        _ = WeightCompression.prune(&weights, sparsity: 0.5, threshold: nil)
        #expect(weights.codes.map { $0 != 0 } == [false, true, true, false, false, true, false, true])
    }

    @Test func globalThresholdPrunesTheFractionOverAllLayers() {
        let threshold = WeightCompression.globalThreshold([[0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4]], sparsity: 0.5)
        #expect(threshold == 1)
    }

    @Test func sharingLeavesAtMostTwoToTheBitsValues() {
        var random = SystemRandomNumberGenerator()
        var weights = Self.layer((0..<4000).map { _ in Float.random(in: -1...1, using: &random) }, channels: 4)
        let zerosBefore = weights.codes.filter { $0 == 0 }.count
        let (values, already) = WeightCompression.share(&weights, bits: 4)
        #expect(!already)
        #expect(values <= 16)
        #expect(Set(weights.codes.filter { $0 != 0 }).count <= 16)
        #expect(weights.codes.filter { $0 == 0 }.count >= zerosBefore)
    }

    /// A layer shared during training (≤ 2^B distinct values) is detected: quantized per tensor so
    /// equal weights keep equal codes, and left exactly as it is by the sharing stage.
    @Test func alreadySharedLayerIsKeptExactly() {
        let centroids: [Float] = [-0.5, -0.25, 0, 0.125, 0.375, 0.75]
        let values = (0..<600).map { centroids[($0 * 7) % centroids.count] * (1 + Float($0 % 3 == 0 ? 0 : 0)) }
        var weights = LayerWeights.quantizing(values, shape: [6, 100], name: "w", precision: .int8, sharedValueLimit: 17)
        #expect(Set(weights.scales).count == 1)
        let before = weights.codes
        let (count, already) = WeightCompression.share(&weights, bits: 4)
        #expect(already)
        #expect(count == 5)
        #expect(weights.codes == before)
    }

    /// Compression on a whole model: 90 % pruning and 4-bit sharing of the ORT-quantized
    /// LeNet-300-100 make it far smaller, and the report says so per layer.
    @Test func compressedModelIsSmallerAndReported() throws {
        let graph = try FixtureFiles.model("mlp-int8-qdq")
        let plain = try Compiler.compile(graph, options: CompileOptions())
        var options = CompileOptions()
        options.compression = CompressionOptions(sparsity: 0.9, scope: .layer, shareBits: 4)
        let compressed = try Compiler.compile(graph, options: options)
        let plainBytes = plain.layers.reduce(0) { $0 + $1.storedBytes }
        let compressedBytes = compressed.layers.reduce(0) { $0 + $1.storedBytes }
        #expect(compressedBytes * 5 < plainBytes)
        for layer in compressed.layers {
            #expect(abs(layer.density - 0.1) < 0.01)
            #expect((layer.compression.sharedValues ?? 99) <= 16)
        }
        let images = try FixtureFiles.batch("data/mnist-test-300.images-flat.npy", rows: 200)
        let labels = try FixtureFiles.labels(rows: 200).map(Int.init)
        let accuracy = EmulatorRun.agreement(FixtureFiles.top1(try EmulatorRun.outputs(compressed, input: images)), labels)
        // One-shot pruning without retraining costs accuracy; it must stay far above chance.
        #expect(accuracy > 0.8)
    }

    @Test func invalidCompressionOptionsAreRefused() throws {
        let graph = try FixtureFiles.model("mlp-int8-qdq")
        for compression in [CompressionOptions(sparsity: 1), CompressionOptions(shareBits: 0), CompressionOptions(shareBits: 9)] {
            var options = CompileOptions()
            options.compression = compression
            #expect(throws: CompilerError.self) { try Compiler.compile(graph, options: options) }
        }
    }
}

@Suite struct LoweringArithmeticTests {
    @Test func poolingFactorsStayWithinPDPKernels() {
        #expect(Lowering.poolingFactors(28) == [7, 4])
        #expect(Lowering.poolingFactors(7) == [7])
        #expect(Lowering.poolingFactors(64) == [8, 8])
        #expect(Lowering.poolingFactors(11) == nil)
    }

    @Test func multipliersShareOneShiftWithFifteenSignificantBits() throws {
        let node = GraphNode(name: "n", opType: "Conv", inputs: [], outputs: [])
        let (multipliers, shift) = try Lowering.fixedPointMultipliers([0.003, 0.0015, -0.001], node: node)
        let factor = Double(sign: .plus, exponent: shift, significand: 1)
        #expect((16384...32767).contains(Int(multipliers[0])))
        for (m, real) in zip(multipliers, [0.003, 0.0015, -0.001]) {
            #expect(abs(Double(m) / factor - real) <= 0.5 / factor)
        }
    }

    @Test func calibratedINT8RangeCoversZeroAndUsesAllCodes() {
        let relu = Calibrator.quantization(low: 0, high: 2.55, precision: .int8, symmetric: false)
        #expect(relu.zeroPoint == -128)
        #expect(abs(relu.scale - 0.01) < 1e-7)
        let symmetric = Calibrator.quantization(low: -1, high: 0.5, precision: .int8, symmetric: true)
        #expect(symmetric.zeroPoint == 0)
        #expect(abs(symmetric.scale - 1.0 / 127) < 1e-7)
        let fp8 = Calibrator.quantization(low: -4.48, high: 1, precision: .fp8e4m3, symmetric: false)
        #expect(abs(fp8.scale - 0.01) < 1e-6)
    }

    @Test func entropyThresholdClipsOutliers() {
        var values = [Float](repeating: 0, count: 10000)
        for i in values.indices { values[i] = Float(i % 100) / 100 }
        values.append(50)
        let threshold = TensorStatistics.entropyThreshold(values)
        #expect(threshold < 10)
        #expect(threshold > 0.9)
    }
}
