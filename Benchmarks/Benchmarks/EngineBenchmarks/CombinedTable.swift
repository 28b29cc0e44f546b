#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The table `make bench` prints: dlad's engine beside the peers, ratios dlad ÷ peer.
enum CombinedTable {
    static func print(_ results: EngineResults, peers: PeerResults?) {
        func f(_ x: Double?, _ digits: Int = 2) -> String {
            guard let x, x.isFinite else { return "–" }
            return fixed(x, digits)
        }
        Swift.print("| model | batch | dlad p50 µs | dlad p99 µs | dlad GOPS | LiteRT p50 µs | ORT p50 µs | dlad ÷ LiteRT | dlad ÷ ORT |")
        Swift.print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        for row in results.latency {
            let litert = peers?.entry(model: row.model, runtime: "litert", batch: row.batchSize)?.latencyUsPerInference.p50
            let ort = peers?.entry(model: row.model, runtime: "onnxruntime", batch: row.batchSize)?.latencyUsPerInference.p50
            Swift.print("| \(row.model) | \(row.batchSize) | \(f(row.latencyUsPerInference.p50)) | \(f(row.latencyUsPerInference.p99)) | "
                + "\(f(row.gopsDenseEquivalent, 1)) | \(f(litert)) | \(f(ort)) | \(f(row.ratioToPeerP50["litert"])) | \(f(row.ratioToPeerP50["onnxruntime"])) |")
        }
        Swift.print("")
        for (name, model) in results.models.sorted(by: { $0.key < $1.key }) {
            let a = model.referenceAgreement
            Swift.print("\(name): top-1 \(f(model.top1 * 100))% (\(model.correct)/\(model.images)); vs the peers' int8 reference: "
                + "\(f(a.identicalLogitsFraction * 100, 3))% logits identical, max |diff| \(a.maxAbsDiffLsb) LSB, "
                + "top-1 agreement \(f(a.top1Agreement * 100, 2))%; .dla \(model.dlaFileBytes) bytes")
        }
        Swift.print("")
        Swift.print("VNNI peak (vpdpbusd, one thread): \(f(results.peak.vnniGops, 1)) GOPS; instruction set \(results.host.instructionSet); "
            + "profile \(results.settings.profile); load average \(f(results.host.loadAverage1Min.before)) → \(f(results.host.loadAverage1Min.after))")
        if let peers {
            let identity = [1, 64].map { batch in
                "batch \(batch): LiteRT \(f(peers.entry(model: "identity", runtime: "litert", batch: batch)?.latencyUsPerCall.p50)) µs, "
                    + "ORT \(f(peers.entry(model: "identity", runtime: "onnxruntime", batch: batch)?.latencyUsPerCall.p50)) µs"
            }
            Swift.print("Peers' figures (\(peers.created)) include their Python call; the identity model's call alone takes "
                + identity.joined(separator: "; ") + " per call. dlad's figures are in-process Executor.run calls.")
        }
    }
}

/// `x` with `digits` decimals, rounded half away from zero (FoundationEssentials has no number
/// formatting).
func fixed(_ x: Double, _ digits: Int) -> String {
    var power = 1
    for _ in 0..<digits { power *= 10 }
    let scaled = Int((x.magnitude * Double(power)).rounded())
    let fraction = String(scaled % power)
    let sign = x < 0 && scaled != 0 ? "-" : ""
    guard digits > 0 else { return sign + String(scaled) }
    return sign + String(scaled / power) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
}
