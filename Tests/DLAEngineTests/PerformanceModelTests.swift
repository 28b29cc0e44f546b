import Testing
@testable import DLAEngine

struct PerformanceModelTests {
    static let layers: [ConvolutionParameters] = [
        ConvolutionParameters(inputChannels: 64, inputHeight: 56, inputWidth: 56, outputChannels: 64, kernelHeight: 3, kernelWidth: 3,
                              padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
        ConvolutionParameters(inputChannels: 3, inputHeight: 224, inputWidth: 224, outputChannels: 64, kernelHeight: 7, kernelWidth: 7,
                              strideY: 2, strideX: 2, padTop: 3, padBottom: 3, padLeft: 3, padRight: 3),
        ConvolutionParameters(inputChannels: 512, inputHeight: 7, inputWidth: 7, outputChannels: 512, kernelHeight: 3, kernelWidth: 3,
                              padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
        .fullyConnected(inputFeatures: 784, outputFeatures: 300),
    ]

    @Test func profilesCarryTheSpecFigures() throws {
        #expect(HardwareProfile.nvSmall.int8MACsPerCycle == 64)
        #expect(HardwareProfile.nvSmall.cbufBytes == 128 * 1024)
        #expect(HardwareProfile.nvLarge.int8MACsPerCycle == 2048)
        #expect(HardwareProfile.nvFull.fp16MACsPerCycle == 1024)
        #expect(HardwareProfile.nvFull.cbufBytes == 512 * 1024)
        #expect(HardwareProfile.xavier.cores == 2)
        #expect(try HardwareProfile.named("nv_full") == .nvFull)
        #expect(throws: EngineError.invalidParameter(name: "hardware profile", expected: "nv_small, nv_large, nv_full, xavier", found: "nv_huge")) {
            try HardwareProfile.named("nv_huge")
        }
        #expect(throws: EngineError.unsupported(unit: "convolution core", capability: "fp16 MACs", profile: "nv_small")) {
            try PerformanceModel(profile: .nvSmall).convolution(Self.layers[0], precision: .fp16)
        }
    }

    @Test func cyclesNeverBeatTheArrayAndUtilizationStaysAtMostOne() throws {
        for profile in HardwareProfile.all {
            let model = PerformanceModel(profile: profile)
            for layer in Self.layers {
                for precision in Precision.allCases {
                    guard let rate = try? model.macsPerCycle(precision) else { continue }
                    let cost = try model.convolution(layer, precision: precision)
                    #expect(cost.hardwareCycles * rate >= cost.macs, "\(profile.name) \(precision)")
                    #expect(cost.macUtilization > 0 && cost.macUtilization <= 1)
                    #expect(cost.zeroSkippingCycles <= cost.hardwareCycles)
                }
            }
        }
        // Channel counts that fill atomic-C × atomic-K waste nothing; 3 input channels waste most.
        let full = try PerformanceModel(profile: .nvFull).convolution(Self.layers[0], precision: .int8)
        #expect(full.macUtilization == 1)
        let rgb = try PerformanceModel(profile: .nvFull).convolution(Self.layers[1], precision: .int8)
        #expect(rgb.macUtilization < 0.05)
    }

    @Test func sparseWeightsCutDRAMOnlyWhereWeightsAreCompressed() throws {
        let layer = Self.layers[2]
        let full = PerformanceModel(profile: .nvFull)
        let dense = try full.convolution(layer, precision: .int8)
        let sparse = try full.convolution(layer, precision: .int8, weightDensity: 0.1, activationDensity: 0.5)
        #expect(sparse.dramBytes < dense.dramBytes)
        #expect(sparse.hardwareCycles >= sparse.macs / HardwareProfile.nvFull.int8MACsPerCycle)
        #expect(sparse.zeroSkippingCycles < dense.zeroSkippingCycles)
        #expect(sparse.zeroSkippingEnergyPicojoules < sparse.energyPicojoules)
        let small = PerformanceModel(profile: .nvSmall)
        #expect(try small.convolution(layer, precision: .int8, weightDensity: 0.1).dramBytes == small.convolution(layer, precision: .int8).dramBytes)
    }

    @Test func nvSmallIsSlowerThanNvFullAndXavierClocksHigher() throws {
        for layer in Self.layers {
            let small = try PerformanceModel(profile: .nvSmall).convolution(layer, precision: .int8)
            let full = try PerformanceModel(profile: .nvFull).convolution(layer, precision: .int8)
            let xavier = try PerformanceModel(profile: .xavier).convolution(layer, precision: .int8)
            #expect(small.hardwareCycles > full.hardwareCycles)
            #expect(xavier.latencySeconds(on: .xavier) < full.latencySeconds(on: .nvFull))
        }
    }

    @Test func layersLargerThanCBUFReadDataMoreThanOnce() throws {
        let big = ConvolutionParameters(inputChannels: 256, inputHeight: 56, inputWidth: 56, outputChannels: 256, kernelHeight: 3, kernelWidth: 3,
                                        padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        let cost = try PerformanceModel(profile: .nvSmall).convolution(big, precision: .int8)
        #expect(cost.dramBytes > 256 * 56 * 56 + 256 * 256 * 9)
        let fits = try PerformanceModel(profile: .nvFull).convolution(Self.layers[3], precision: .int8)
        #expect(fits.dramBytes == 784 + 784 * 300)
    }

    @Test func otherUnitsCostAndRefuseByProfile() throws {
        let full = PerformanceModel(profile: .nvFull)
        let pool = try full.pdp(PDPParameters(method: .maximum, kernelHeight: 2, kernelWidth: 2, strideY: 2, strideX: 2), channels: 64, height: 56, width: 56)
        #expect(pool.hardwareCycles >= 64 * 28 * 28 * 4 / HardwareProfile.nvFull.pdpThroughput)
        let program = SDPParameters(stages: [.add(.perChannel([Int32](repeating: 0, count: 64))), .relu], converter: .identity)
        let sdp = try full.sdp(program, elements: 64 * 56 * 56, channels: 64, fused: true, inputElementBytes: 4)
        #expect(sdp.dramBytes == 64 * 4 + 64 * 56 * 56)
        // Read from memory, INT32 accumulators cost 4 bytes an element, INT8 codes 1.
        let accumulators = try full.sdp(program, elements: 64 * 56 * 56, channels: 64, fused: false, inputElementBytes: 4)
        let codes = try full.sdp(program, elements: 64 * 56 * 56, channels: 64, fused: false, inputElementBytes: 1)
        #expect(accumulators.dramBytes == 64 * 4 + 5 * 64 * 56 * 56)
        #expect(codes.dramBytes == 64 * 4 + 2 * 64 * 56 * 56)
        #expect(codes.hardwareCycles <= accumulators.hardwareCycles)
        #expect(codes.energyPicojoules < accumulators.energyPicojoules)
        #expect(throws: EngineError.self) { try PerformanceModel(profile: .nvSmall).dataMovement(.rubik, bytes: 100) }
        #expect(try full.dataMovement(.bdma, bytes: 640).hardwareCycles == 20)
        let total = OperationCost.total([pool, sdp])
        #expect(total.hardwareCycles == pool.hardwareCycles + sdp.hardwareCycles)
    }
}
