import DLAAPI

/// A duration for people: the unit (ns, µs, ms, s) that keeps three or four significant digits.
func durationText(seconds: Double) -> String {
    guard seconds.isFinite else { return "\(seconds) s" }
    let magnitude = abs(seconds)
    if magnitude < 1e-6 { return InspectReport.fixed(seconds * 1e9, 1) + " ns" }
    if magnitude < 1e-3 { return InspectReport.fixed(seconds * 1e6, 2) + " µs" }
    if magnitude < 1 { return InspectReport.fixed(seconds * 1e3, 3) + " ms" }
    return InspectReport.fixed(seconds, 3) + " s"
}

/// An age as people write it on a command line: `90s`, `15m`, `1h`, `7d` (or bare seconds).
func ageSeconds(_ text: String) -> Int? {
    if let seconds = Int(text), seconds > 0 { return seconds }
    guard let seconds = AgeText.seconds(text), seconds > 0 else { return nil }
    return Int(seconds)
}
