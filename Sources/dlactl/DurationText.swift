/// A duration for people: the unit (ns, µs, ms, s) that keeps three or four significant digits.
func durationText(seconds: Double) -> String {
    guard seconds.isFinite else { return "\(seconds) s" }
    let magnitude = abs(seconds)
    if magnitude < 1e-6 { return InspectReport.fixed(seconds * 1e9, 1) + " ns" }
    if magnitude < 1e-3 { return InspectReport.fixed(seconds * 1e6, 2) + " µs" }
    if magnitude < 1 { return InspectReport.fixed(seconds * 1e3, 3) + " ms" }
    return InspectReport.fixed(seconds, 3) + " s"
}
