import Testing
@testable import DLANumerics

struct FP16Tests {
    static let reference = NearestEvenReference(maxFiniteCode: 0x7BFF) {
        layoutValue($0, exponentBits: 5, mantissaBits: 10, bias: 15)
    }

    static func expectedEncoding(_ x: Float) -> UInt16? {
        let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
        if x.isNaN { return nil }
        if x.isInfinite { return sign | 0x7C00 }
        switch reference.round(Double(x.magnitude)) {
        case .code(let code): return sign | UInt16(code)
        case .overflow: return sign | 0x7C00
        }
    }

    @Test func everyPatternDecodesToItsLayoutValue() {
        for bits in UInt16.min...UInt16.max {
            let decoded = FP16.decode(bits)
            let magnitudeCode = UInt32(bits & 0x7FFF)
            let negative = bits & 0x8000 != 0
            if magnitudeCode > 0x7C00 {
                #expect(decoded.isNaN)
                continue
            }
            let magnitude = magnitudeCode == 0x7C00
                ? Double.infinity : layoutValue(magnitudeCode, exponentBits: 5, mantissaBits: 10, bias: 15)
            #expect(Double(decoded) == (negative ? -magnitude : magnitude), "bits \(bits)")
            #expect(decoded.sign == (negative ? .minus : .plus))
        }
    }

    @Test func everyNonNaNPatternRoundTrips() {
        for bits in UInt16.min...UInt16.max where bits & 0x7FFF <= 0x7C00 {
            #expect(FP16.encode(FP16.decode(bits)) == bits)
        }
    }

    @Test func encodingMatchesBruteForceNearestEven() {
        let probes = float32Sweep(stride: 65_521) + Self.reference.criticalPoints.flatMap { [$0, -$0] }
        for x in probes {
            let encoded = FP16.encode(x)
            if let expected = Self.expectedEncoding(x) {
                #expect(encoded == expected, "x=\(x) (0x\(String(x.bitPattern, radix: 16)))")
                if encoded != expected { return }
            } else {
                #expect(encoded & 0x7C00 == 0x7C00 && encoded & 0x03FF != 0, "NaN must stay NaN")
            }
        }
    }

    @Test func documentedEdges() {
        #expect(FP16.encode(65504) == 0x7BFF)
        #expect(FP16.encode(65519.996) == 0x7BFF)
        #expect(FP16.encode(65520) == 0x7C00)  // tie to even rounds up into infinity
        #expect(FP16.encode(-1e9) == 0xFC00)
        #expect(FP16.encode(0x1p-24) == 0x0001)
        #expect(FP16.encode(0x1p-25) == 0x0000)  // tie at half the smallest subnormal → even (zero)
        #expect(FP16.encode(Float(0x1p-25).nextUp) == 0x0001)
        #expect(FP16.encode(-0.0) == 0x8000)
        #expect(FP16.encode(1 + 0x1p-11) == 0x3C00)  // tie → even mantissa
        #expect(FP16.encode(1 + 3 * 0x1p-11) == 0x3C02)
        #expect(FP16.decode(FP16.encode(.nan)).isNaN)
    }

    #if !(os(macOS) && arch(x86_64))
    /// The stdlib's Float16 conversion is IEEE round-to-nearest-even too; the two must agree.
    @Test func agreesWithStandardLibraryFloat16() {
        for x in float32Sweep(stride: 7_919) where !x.isNaN {
            #expect(FP16.encode(x) == Float16(x).bitPattern, "x=\(x)")
        }
        for bits in UInt16.min...UInt16.max where bits & 0x7FFF <= 0x7C00 {
            #expect(FP16.decode(bits) == Float(Float16(bitPattern: bits)))
        }
    }
    #endif
}
