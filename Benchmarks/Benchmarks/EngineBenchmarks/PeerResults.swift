#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The parts of `Benchmarks/results/peers.json` (`dlad-peer-benchmarks/1`) the combined table uses.
struct PeerResults: Decodable {
    struct Latency: Decodable {
        var model: String
        var runtime: String
        var batchSize: Int
        var latencyUsPerInference: LatencySummary
        var latencyUsPerCall: Call

        struct Call: Decodable {
            var p50: Double
        }
    }

    var created: String
    var latency: [Latency]

    static func load(_ path: String) throws -> PeerResults {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(PeerResults.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func entry(model: String, runtime: String, batch: Int) -> Latency? {
        latency.first { $0.model == model && $0.runtime == runtime && $0.batchSize == batch }
    }
}
