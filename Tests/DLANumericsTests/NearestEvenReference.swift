/// Brute-force round-to-nearest-even over an explicit list of a format's values: the oracle the
/// bit-twiddling encoders are checked against. It knows nothing about exponent fields.
struct NearestEvenReference {
    /// Non-negative finite values in increasing order with their codes, followed by one virtual
    /// entry: the value the next code would have if the exponent range went on (the overflow point).
    let values: [Double]
    let codes: [UInt32]

    enum Outcome: Equatable {
        case code(UInt32)
        case overflow
    }

    /// - Parameter layoutValue: the value of magnitude code `c` under an unbounded exponent range.
    init(maxFiniteCode: UInt32, layoutValue: (UInt32) -> Double) {
        codes = Array(0...maxFiniteCode + 1)
        values = codes.map(layoutValue)
    }

    /// Nearest value to the non-negative finite `a`; ties go to the even code.
    func round(_ a: Double) -> Outcome {
        precondition(a >= 0 && a.isFinite)
        let overflowIndex = values.count - 1
        if a >= values[overflowIndex] { return .overflow }
        var low = 0
        var high = overflowIndex  // values[low] ≤ a < values[high]
        while high - low > 1 {
            let mid = (low + high) / 2
            if values[mid] <= a { low = mid } else { high = mid }
        }
        let below = a - values[low]
        let above = values[high] - a
        let chosen: Int
        if below < above {
            chosen = low
        } else if above < below {
            chosen = high
        } else {
            chosen = codes[low] & 1 == 0 ? low : high
        }
        return chosen == overflowIndex ? .overflow : .code(codes[chosen])
    }

    /// Every value the sweep should probe: the codes themselves and each midpoint ± one Float32 ulp.
    var criticalPoints: [Float] {
        var points: [Float] = []
        for index in values.indices {
            points.append(Float(values[index]))
            guard index + 1 < values.count else { continue }
            let midpoint = Float((values[index] + values[index + 1]) / 2)
            points.append(contentsOf: [midpoint, midpoint.nextUp, midpoint.nextDown])
        }
        return points
    }
}

/// 2^k computed by repeated doubling/halving, independent of the library's bit arithmetic.
func powerOfTwo(_ k: Int) -> Double {
    var result = 1.0
    if k >= 0 {
        for _ in 0..<k { result *= 2 }
    } else {
        for _ in 0 ..< -k { result /= 2 }
    }
    return result
}

/// The value of a sign-less code of a binary format with `e` exponent and `m` mantissa bits,
/// read straight off the bit layout, with no special encodings.
func layoutValue(_ code: UInt32, exponentBits e: Int, mantissaBits m: Int, bias: Int) -> Double {
    let exponentField = Int(code >> UInt32(m))
    let mantissaField = Double(code & ((1 << UInt32(m)) - 1))
    precondition(exponentField < 1 << e + 1)
    if exponentField == 0 {
        return mantissaField / powerOfTwo(m) * powerOfTwo(1 - bias)
    }
    return (1 + mantissaField / powerOfTwo(m)) * powerOfTwo(exponentField - bias)
}

/// Float32 values spread over every exponent and sign: every `stride`-th bit pattern.
func float32Sweep(stride: UInt32) -> [Float] {
    Swift.stride(from: UInt64(0), to: 1 << 32, by: Int(stride)).map { Float(bitPattern: UInt32($0)) }
}
