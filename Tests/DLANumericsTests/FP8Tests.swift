import Testing
@testable import DLANumerics

struct FP8Tests {
    struct Spec {
        let format: FP8Format
        let exponentBits: Int
        let mantissaBits: Int
        let bias: Int
        let maxFiniteCode: UInt32
        let reference: NearestEvenReference

        init(format: FP8Format, exponentBits: Int, mantissaBits: Int, bias: Int, maxFiniteCode: UInt32) {
            self.format = format
            self.exponentBits = exponentBits
            self.mantissaBits = mantissaBits
            self.bias = bias
            self.maxFiniteCode = maxFiniteCode
            reference = NearestEvenReference(maxFiniteCode: maxFiniteCode) {
                layoutValue($0, exponentBits: exponentBits, mantissaBits: mantissaBits, bias: bias)
            }
        }

        /// Expected decoding of a magnitude code, from the format's definition.
        func expectedMagnitude(_ code: UInt8) -> Double {
            switch format {
            case .e4m3fn where code == 0x7F: .nan
            case .e5m2 where code == 0x7C: .infinity
            case .e5m2 where code > 0x7C: .nan
            default: layoutValue(UInt32(code), exponentBits: exponentBits, mantissaBits: mantissaBits, bias: bias)
            }
        }

        /// Expected encoding from the brute-force oracle plus the overflow policy.
        func expectedEncoding(_ x: Float, overflow: FP8Overflow) -> UInt8 {
            let sign: UInt8 = x.sign == .minus ? 0x80 : 0
            if x.isNaN { return sign | (format == .e4m3fn ? 0x7F : 0x7E) }
            let overflowCode: UInt8 = switch (format, overflow) {
            case (_, .saturate): UInt8(maxFiniteCode)
            case (.e4m3fn, .nonSaturating): 0x7F
            case (.e5m2, .nonSaturating): 0x7C
            }
            if x.isInfinite { return sign | overflowCode }
            switch reference.round(Double(x.magnitude)) {
            case .code(let code): return sign | UInt8(code)
            case .overflow: return sign | overflowCode
            }
        }
    }

    static let specs = [
        Spec(format: .e4m3fn, exponentBits: 4, mantissaBits: 3, bias: 7, maxFiniteCode: 0x7E),
        Spec(format: .e5m2, exponentBits: 5, mantissaBits: 2, bias: 15, maxFiniteCode: 0x7B),
    ]

    @Test(arguments: specs)
    func everyCodeDecodesToItsLayoutValue(spec: Spec) {
        for code in UInt8.min...UInt8.max {
            let decoded = FP8.decode(code, spec.format)
            let expected = spec.expectedMagnitude(code & 0x7F)
            if expected.isNaN {
                #expect(decoded.isNaN, "code \(code)")
            } else {
                let signed = code & 0x80 != 0 ? -expected : expected
                #expect(Double(decoded) == signed, "code \(code)")
                #expect(decoded.sign == (code & 0x80 != 0 ? .minus : .plus), "code \(code)")
            }
        }
    }

    @Test func formatConstants() {
        #expect(FP8.maxFinite(.e4m3fn) == 448)
        #expect(FP8.maxFinite(.e5m2) == 57344)
        #expect(FP8.decode(0x01, .e4m3fn) == 0x1p-9)
        #expect(FP8.decode(0x01, .e5m2) == 0x1p-16)
        #expect(FP8.decode(0x7C, .e5m2) == .infinity)
        #expect(FP8.decode(0xFC, .e5m2) == -.infinity)
        #expect(FP8.decode(0x7F, .e4m3fn).isNaN && FP8.decode(0xFF, .e4m3fn).isNaN)
        #expect(FP8.decode(0x78, .e4m3fn) == 256)  // E4M3FN reuses the top exponent for normals
    }

    @Test(arguments: specs, [FP8Overflow.saturate, .nonSaturating])
    func everyNonNaNCodeRoundTrips(spec: Spec, overflow: FP8Overflow) {
        for code in UInt8.min...UInt8.max {
            let value = FP8.decode(code, spec.format)
            guard !value.isNaN else { continue }
            if value.isInfinite && overflow == .saturate {
                #expect(FP8.encode(value, as: spec.format, overflow: overflow) == code & 0x80 | 0x7B)
            } else {
                #expect(FP8.encode(value, as: spec.format, overflow: overflow) == code, "code \(code)")
            }
        }
    }

    @Test func documentedTiesAndOverflows() {
        // E4M3FN: mantissa step at 1.0 is 0.125.
        #expect(FP8.encode(1.0625, as: .e4m3fn, overflow: .saturate) == FP8.encode(1.0, as: .e4m3fn, overflow: .saturate))
        #expect(FP8.decode(FP8.encode(1.1875, as: .e4m3fn, overflow: .saturate), .e4m3fn) == 1.25)
        #expect(FP8.encode(464, as: .e4m3fn, overflow: .nonSaturating) == 0x7E)  // tie to even 448
        #expect(FP8.encode(465, as: .e4m3fn, overflow: .nonSaturating) == 0x7F)
        #expect(FP8.encode(465, as: .e4m3fn, overflow: .saturate) == 0x7E)
        #expect(FP8.encode(-465, as: .e4m3fn, overflow: .nonSaturating) == 0xFF)
        #expect(FP8.encode(0x1p-10, as: .e4m3fn, overflow: .saturate) == 0x00)  // half the smallest subnormal, even
        #expect(FP8.encode(Float(0x1p-10).nextUp, as: .e4m3fn, overflow: .saturate) == 0x01)
        #expect(FP8.encode(3 * 0x1p-10, as: .e4m3fn, overflow: .saturate) == 0x02)  // tie between 1 and 2 → 2
        #expect(FP8.encode(-0x1p-12, as: .e4m3fn, overflow: .saturate) == 0x80)  // negative zero keeps its sign
        // E5M2: 61440 is the tie between 57344 and the would-be 65536 (even) → overflow.
        #expect(FP8.encode(61440, as: .e5m2, overflow: .nonSaturating) == 0x7C)
        #expect(FP8.encode(61440, as: .e5m2, overflow: .saturate) == 0x7B)
        #expect(FP8.encode(Float(61440).nextDown, as: .e5m2, overflow: .nonSaturating) == 0x7B)
        #expect(FP8.encode(-.infinity, as: .e5m2, overflow: .nonSaturating) == 0xFC)
        #expect(FP8.encode(.infinity, as: .e4m3fn, overflow: .saturate) == 0x7E)
        #expect(FP8.encode(.infinity, as: .e4m3fn, overflow: .nonSaturating) == 0x7F)
        #expect(FP8.encode(.greatestFiniteMagnitude, as: .e5m2, overflow: .saturate) == 0x7B)
        #expect(FP8.encode(.nan, as: .e4m3fn, overflow: .saturate) == 0x7F)
        #expect(FP8.encode(-Float.nan, as: .e5m2, overflow: .saturate) == 0xFE)  // ONNX reference (ml_dtypes): the quiet NaN 0x7E
        #expect(FP8.encode(Float(bitPattern: 0x7F80_0001), as: .e5m2, overflow: .saturate) == 0x7E)  // signalling NaN, quieted
    }

    @Test(arguments: specs, [FP8Overflow.saturate, .nonSaturating])
    func encodingMatchesBruteForceNearestEven(spec: Spec, overflow: FP8Overflow) {
        let probes = float32Sweep(stride: 65_521) + spec.reference.criticalPoints.flatMap { [$0, -$0] }
        for x in probes {
            let expected = spec.expectedEncoding(x, overflow: overflow)
            let actual = FP8.encode(x, as: spec.format, overflow: overflow)
            #expect(actual == expected, "\(spec.format) \(overflow) x=\(x) (0x\(String(x.bitPattern, radix: 16)))")
            if actual != expected { return }
        }
    }

    @Test func quantizeDividesInFloat32BeforeEncoding() {
        // 3 / 0.1 in Float32 is 30.000000 (exactly representable neighbours differ from 3 * (1/0.1)).
        for x: Float in [-1000, -3, -0.7, 0, 0.3, 3, 29.9, 1000] {
            for scale: Float in [0.1, 0.37, 2, 1e-3] {
                for format in FP8Format.allCases {
                    #expect(FP8.quantize(x, scale: scale, as: format, overflow: .saturate)
                        == FP8.encode(x / scale, as: format, overflow: .saturate))
                }
            }
        }
        #expect(FP8.quantize(1000, scale: 1, as: .e4m3fn, overflow: .saturate) == 0x7E)
        #expect(FP8.quantize(1000, scale: 1, as: .e4m3fn, overflow: .nonSaturating) == 0x7F)
        #expect(FP8.dequantize(0x7E, scale: 0.5, .e4m3fn) == 224)
    }
}

extension FP8Tests.Spec: CustomTestStringConvertible {
    var testDescription: String { "\(format)" }
}
