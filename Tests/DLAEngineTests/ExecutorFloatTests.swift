#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DLAFormat
import DLANumerics
import Testing
@testable import DLAEngine

/// An FP8 (E4M3) network through the writer, reader, adapter and executor, against the units
/// composed by hand; and the profiles that must refuse it.
struct ExecutorFloatTests {
    static func model(weightType: DLADataType) throws -> (DLALoadedModel, [Float], [Float], [Float], [Float]) {
        var random = TestRandom(seed: 8)
        func codes(_ count: Int) -> DLATensorValues {
            let reals = (0..<count).map { _ in Float(random.int(in: -40...40)) / 16 }
            switch weightType {
            case .float16: return .float16(reals.map(FP16.encode))
            default: return .fp8e4m3(reals.map { FP8.encode($0, as: .e4m3fn, overflow: .saturate) })
            }
        }
        func decoded(_ values: DLATensorValues) -> [Float] {
            switch values {
            case .float16(let c): c.map(FP16.decode)
            case .fp8e4m3(let c): c.map { FP8.decode($0, .e4m3fn) }
            default: []
            }
        }
        let convCodes = codes(36), fcCodes = codes(640)
        let convScale = (0..<4).map { _ in Float(random.int(in: 1...8)) / 8 }
        let bias = (0..<4).map { _ in Float(random.int(in: -8...8)) / 4 }
        let act = weightType == .float16 ? DLADataType.float16 : .fp8e4m3
        let tensors = [
            DLATensorSpec(name: "image", shape: [-1, 1, 8, 8], dataType: act, quantization: .perTensor(scale: 0.25, zeroPoint: 0)),
            DLATensorSpec(name: "conv", shape: [-1, 4, 8, 8], dataType: .float32),
            DLATensorSpec(name: "act", shape: [-1, 4, 8, 8], dataType: act),
            DLATensorSpec(name: "pool", shape: [-1, 4, 4, 4], dataType: act),
            DLATensorSpec(name: "flat", shape: [-1, 64], dataType: act),
            DLATensorSpec(name: "fc", shape: [-1, 10], dataType: .float32),
            DLATensorSpec(name: "probabilities", shape: [-1, 10], dataType: .float32),
        ]
        let operations = [
            DLAOperation(name: "conv1", unit: .convolution, type: "conv", inputs: [0], outputs: [1],
                         attributes: [DLAAttribute("weight", .weight(0)), DLAAttribute("padding", .ints([1, 1, 1, 1]))]),
            DLAOperation(name: "conv1_sdp", unit: .sdp, type: "sdp", inputs: [1], outputs: [2],
                         attributes: [DLAAttribute("bias", .weight(1)), DLAAttribute("scale", .weight(2)),
                                      DLAAttribute("activation", .string("relu")), DLAAttribute("cvt_scale", .float(0.5))]),
            DLAOperation(name: "pool1", unit: .pdp, type: "pool", inputs: [2], outputs: [3],
                         attributes: [DLAAttribute("method", .string("avg")), DLAAttribute("kernel", .ints([2, 2]))]),
            DLAOperation(name: "flatten", unit: .cpu, type: "reshape", inputs: [3], outputs: [4]),
            DLAOperation(name: "fc1", unit: .convolution, type: "fc", inputs: [4], outputs: [5], attributes: [DLAAttribute("weight", .weight(3))]),
            DLAOperation(name: "softmax", unit: .cpu, type: "softmax", inputs: [5], outputs: [6]),
        ]
        let weights = [
            DLAWeightTensor(name: "conv1.weight", shape: [4, 1, 3, 3], values: convCodes),
            DLAWeightTensor(name: "conv1.bias", shape: [4], values: .float32(bias)),
            DLAWeightTensor(name: "conv1.scale", shape: [4], values: .float32(convScale)),
            DLAWeightTensor(name: "fc1.weight", shape: [10, 64], values: fcCodes),
        ]
        let metadata = DLAMetadata(name: "tiny-fp", producer: "DLAEngineTests", createdAt: 0, targetProfile: "nv_full", precision: act.description,
                                   inputs: [tensors[0]], outputs: [tensors[6]])
        let bytes = try DLAFile.write(DLAModel(metadata: metadata, graph: DLAGraph(tensors: tensors, inputs: [0], outputs: [6], operations: operations),
                                               weights: weights), environment: [:])
        return (try DLAFile.read(bytes), decoded(convCodes), decoded(fcCodes), bias, convScale)
    }

    @Test(arguments: [DLADataType.fp8e4m3, .float16])
    func floatGraphMatchesTheUnitsAndRefusesIntegerOnlyProfiles(weightType: DLADataType) throws {
        let (loaded, convW, fcW, bias, scale) = try Self.model(weightType: weightType)
        let compiled = try ModelAdapter.compile(loaded)
        let format: ActivationSpec.ElementType = weightType == .float16 ? .float16 : .fp8e4m3
        var random = TestRandom(seed: 4)
        let real = try Tensor(shape: [3, 1, 8, 8], scalars: (0..<192).map { _ in random.unit() < 0.5 ? 0 : Float(random.int(in: 0...30)) / 16 })
        let result = try Executor(model: compiled, profile: .nvFull, threads: 2).run([.float32(real)])

        let conv = ConvolutionParameters(inputChannels: 1, inputHeight: 8, inputWidth: 8, outputChannels: 4, kernelHeight: 3, kernelWidth: 3,
                                         padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        var expected: [Float] = []
        for n in 0..<3 {
            let image = try Tensor(shape: [1, 8, 8], scalars: real.scalars[(n * 64)..<((n + 1) * 64)].map { format.round($0 / 0.25) })
            let acc = try ConvolutionCore.float(input: image, weights: try Tensor(shape: [4, 1, 3, 3], scalars: convW), parameters: conv, atomicC: 64)
            let act = try Tensor(shape: [4, 8, 8], scalars: acc.scalars.enumerated().map { i, x in
                format.round(max((x + bias[i / 64]) * scale[i / 64], 0) * 0.5)
            })
            let pooled = try PDP.runFloat(act, PDPParameters(method: .average, kernelHeight: 2, kernelWidth: 2, strideY: 2, strideX: 2), profile: .nvFull)
            let flat = pooled.scalars.map(format.round)
            let logits = (0..<10).map { j in
                var sum = 0.0
                for block in stride(from: 0, to: 64, by: 64) {
                    var partial = 0.0
                    for k in block..<min(block + 64, 64) { partial += Double(flat[k] * fcW[j * 64 + k]) }
                    sum += partial
                }
                return Float(sum)
            }
            expected += try CPUFallback.softmax(try Tensor(shape: [1, 10], scalars: logits)).scalars
        }
        #expect(result.outputs == [.float32(try Tensor(shape: [3, 10], scalars: expected))])
        #expect(result.stats.operations[0].cost.macs == 3 * 64 * 4 * 9)
        let capability = weightType == .float16 ? "FP16 convolution" : "FP8 convolution (our extension)"
        #expect(throws: EngineError.unsupported(unit: "operation 'conv1' (convolution conv)", capability: capability, profile: "nv_large")) {
            try Executor(model: compiled, profile: .nvLarge)
        }
    }
}
