import Testing
@testable import DLAEngine

struct DataMovementTests {
    @Test func contractIsDepthToSpace() throws {
        // Four channel blocks of one channel, 1×1 spatial → 1 channel, 2×2.
        let x = try Tensor<Int8>(shape: [4, 1, 1], scalars: [1, 2, 3, 4])
        #expect(try Rubik.contract(x, strideY: 2, strideX: 2, profile: .nvFull).scalars == [1, 2, 3, 4])
        let y = try Tensor<Int8>(shape: [4, 1, 2], scalars: [1, 5, 2, 6, 3, 7, 4, 8])
        let contracted = try Rubik.contract(y, strideY: 2, strideX: 2, profile: .nvFull)
        #expect(contracted.shape == [1, 2, 4])
        #expect(contracted.scalars == [1, 2, 5, 6, 3, 4, 7, 8])
    }

    @Test func mergeAndSplitConvertThePackedFeatureFormat() throws {
        var random = TestRandom(seed: 3)
        let planes = try Tensor(shape: [5, 2, 3], scalars: random.int8s(30))
        let packed = try Rubik.merge(planes, atom: 4, fill: 0, profile: .nvFull)
        #expect(packed.count == 2 * 2 * 3 * 4)
        // Channel 5 of 8 in the second surface is padding; channel 4 at (0,1) sits at surface 1, pixel 1, lane 0.
        #expect(packed[(1 * 6 + 1) * 4 + 0] == planes.scalars[4 * 6 + 1])
        #expect(try Rubik.split(packed, channels: 5, height: 2, width: 3, atom: 4, profile: .nvFull) == planes)
    }

    @Test func transposeAndRefusalOnProfilesWithoutRubik() throws {
        let x = try Tensor<Int8>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let t = try Rubik.transpose(x, permutation: [1, 0], profile: .nvFull)
        #expect(t.shape == [3, 2])
        #expect(t.scalars == [1, 4, 2, 5, 3, 6])
        #expect(throws: EngineError.unsupported(unit: "RUBIK", capability: "reshape engine (RUBIK)", profile: "nv_large")) {
            try Rubik.transpose(x, permutation: [1, 0], profile: .nvLarge)
        }
    }

    @Test func bdmaConcatenatesAndSlices() throws {
        let a = try Tensor<Int8>(shape: [1, 2, 2], scalars: [1, 2, 3, 4])
        let b = try Tensor<Int8>(shape: [2, 2, 2], scalars: [5, 6, 7, 8, 9, 10, 11, 12])
        let joined = try BDMA.concatenate([a, b], axis: 0, profile: .nvFull)
        #expect(joined.shape == [3, 2, 2])
        #expect(joined.scalars == Array(1...12).map { Int8($0) })
        let wide = try BDMA.concatenate([a, a], axis: 2, profile: .nvFull)
        #expect(wide.scalars == [1, 2, 1, 2, 3, 4, 3, 4])
        #expect(try BDMA.slice(joined, axis: 0, range: 1..<3, profile: .nvFull) == b)
        #expect(throws: EngineError.unsupported(unit: "BDMA", capability: "bridge DMA (BDMA)", profile: "nv_small")) {
            try BDMA.slice(joined, axis: 0, range: 0..<1, profile: .nvSmall)
        }
    }

    @Test func cpuFallbackSoftmaxAndQuantization() throws {
        let logits = try Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 1000, 1000, 1000])
        let p = try CPUFallback.softmax(logits)
        #expect(abs(p.scalars[0...2].reduce(0, +) - 1) < 1e-6)
        #expect(p.scalars[2] > p.scalars[1] && p.scalars[1] > p.scalars[0])
        #expect(p.scalars[3...5].allSatisfy { abs($0 - 1.0 / 3) < 1e-6 })
        let q = try CPUFallback.quantize(try Tensor(shape: [3], scalars: [0.5, -1000, 0.25]), scale: 0.5, zeroPoint: 1)
        #expect(q.scalars == [2, -128, 1])  // 0.25/0.5 = 0.5 → round half even 0, + 1
        #expect(try CPUFallback.dequantize(q, scale: 0.5, zeroPoint: 1).scalars == [0.5, -64.5, 0])
    }
}
