/// A number printed with a fixed count of decimals (two by default), without Foundation's
/// `String(format:)`.
public struct Decimal2: CustomStringConvertible, Sendable {
    public var value: Double
    public var digits: Int

    public init(_ value: Double, digits: Int = 2) {
        self.value = value
        self.digits = digits
    }

    public var description: String {
        // Beyond 2^53 a Double has no fraction to print (and Int would overflow).
        guard value.isFinite, abs(value) < 0x1p53 else { return "\(value)" }
        var factor = 1.0
        for _ in 0..<digits { factor *= 10 }
        let scaled = (abs(value) * factor).rounded()
        let whole = Int(scaled / factor)
        let fraction = Int(scaled - Double(whole) * factor)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard digits > 0 else { return "\(sign)\(whole)" }
        let fractionText = String(fraction)
        return "\(sign)\(whole)." + String(repeating: "0", count: digits - fractionText.count) + fractionText
    }
}
