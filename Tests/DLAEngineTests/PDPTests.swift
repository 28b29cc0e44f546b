import Testing
@testable import DLAEngine

struct PDPTests {
    /// The driver's register table (nvdla/sw kmd pdp.c `recip_kernel_size`).
    @Test func reciprocalRegistersMatchTheDriverTable() {
        #expect((1...8).map(PDP.reciprocal) == [0x10000, 0x8000, 0x5555, 0x4000, 0x3333, 0x2AAA, 0x2492, 0x2000])
    }

    /// The C model's arithmetic, written as it is there (double products, ±0.5 then truncation),
    /// against our integer implementation on random data, every kernel size.
    @Test func averageMatchesTheCModelFormula() throws {
        var random = TestRandom(seed: 11)
        for kernel in 1...8 {
            let input = try Tensor(shape: [2, 9, 10], scalars: random.int8s(180))
            let p = PDPParameters(method: .average, kernelHeight: kernel, kernelWidth: max(1, 9 - kernel), strideY: 1, strideX: 2,
                                  padTop: min(kernel - 1, 2), padLeft: 1, paddingValue: -3)
            let out = try PDP.run(input, p, profile: .nvSmall)
            let (oh, ow) = try p.outputSize(height: 9, width: 10)
            for c in 0..<2 {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var sum = 0
                        for r in 0..<p.kernelHeight {
                            for s in 0..<p.kernelWidth {
                                let iy = oy * p.strideY - p.padTop + r, ix = ox * p.strideX - p.padLeft + s
                                sum += (iy >= 0 && iy < 9 && ix >= 0 && ix < 10) ? Int(input.scalars[(c * 9 + iy) * 10 + ix]) : -3
                            }
                        }
                        var t = Double(sum) * Double(PDP.reciprocal(p.kernelWidth)) / 65536
                        var i = Int(t > 0 ? t + 0.5 : t - 0.5)
                        t = Double(i) * Double(PDP.reciprocal(p.kernelHeight)) / 65536
                        i = Int(t > 0 ? t + 0.5 : t - 0.5)
                        #expect(Int(out.scalars[(c * oh + oy) * ow + ox]) == max(-128, min(127, i)))
                    }
                }
            }
        }
    }

    @Test func averageOfAConstantIsTheConstant() throws {
        let input = try Tensor(shape: [1, 3, 3], scalars: [Int8](repeating: 127, count: 9))
        let out = try PDP.run(input, PDPParameters(method: .average, kernelHeight: 3, kernelWidth: 3, strideY: 1, strideX: 1), profile: .nvSmall)
        #expect(out.scalars == [127])  // 1143·0x5555/2^16 = 380.99 → 381; 381·0x5555/2^16 = 126.99 → 127
    }

    @Test func maxAndMinIgnorePadding() throws {
        let input = try Tensor<Int8>(shape: [1, 2, 2], scalars: [-5, -6, -7, -8])
        let p = PDPParameters(method: .maximum, kernelHeight: 2, kernelWidth: 2, strideY: 2, strideX: 2,
                              padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, paddingValue: 0)
        #expect(try PDP.run(input, p, profile: .nvSmall).scalars == [-5, -6, -7, -8])
        var q = p
        q.method = .minimum
        q.padTop = 0; q.padLeft = 0; q.padBottom = 0; q.padRight = 0
        #expect(try PDP.run(input, q, profile: .nvSmall).scalars == [-8])
    }

    @Test func registerRangesAreEnforced() throws {
        let input = try Tensor(shape: [1, 10, 10], scalars: [Int8](repeating: 0, count: 100))
        #expect(throws: EngineError.invalidParameter(name: "PDP kernelWidth", expected: "1...8", found: "9")) {
            try PDP.run(input, PDPParameters(method: .maximum, kernelHeight: 2, kernelWidth: 9, strideY: 1, strideX: 1), profile: .nvSmall)
        }
        #expect(throws: EngineError.invalidParameter(name: "PDP strideY", expected: "1...16", found: "17")) {
            try PDP.run(input, PDPParameters(method: .maximum, kernelHeight: 2, kernelWidth: 2, strideY: 17, strideX: 1), profile: .nvSmall)
        }
    }
}
