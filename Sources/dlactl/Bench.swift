import ArgumentParser
import DLAClient
import DLAFormat
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `dlactl bench`: a load generator against dlad's socket, each client a thread with its own
/// kept-alive connection.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load dlad with concurrent inference requests and report throughput and latency.",
        discussion: "Each of --concurrency clients sends the same request over its own kept-alive connection, for --duration or until --requests have been answered in all. Latency is measured per request at the client, connection time excluded.")

    enum BodyFormat: String, ExpressibleByArgument, CaseIterable { case npy, json }

    @OptionGroup var connection: DaemonConnection
    @Argument(help: "Model name (omit with --health).") var name: String?
    @Option(help: ArgumentHelp("Input .npy sent with every request.", valueName: "x.npy")) var input: String?
    @Option(help: "Send the input as npy or json.") var body: BodyFormat = .npy
    @Option(help: "Concurrent clients.") var concurrency = 16
    @Option(help: ArgumentHelp("How long to run: 10s, 1m, …", valueName: "age")) var duration: String = "10s"
    @Option(help: "Stop after this many requests in all (instead of --duration).") var requests: Int?
    @Flag(help: "Load GET /v1/health instead (the transport's floor).") var health = false
    @Flag(help: "Print the figures as JSON.") var json = false

    func validate() throws {
        guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be 1…1024, got \(concurrency)") }
        guard ageSeconds(duration) != nil else { throw ValidationError("--duration: expected a number with s, m, h or d, got '\(duration)'") }
        if !health && (name == nil || input == nil) { throw ValidationError("give a model name and --input (or --health)") }
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1") }
    }

    struct Figures: Codable {
        var requests: Int
        var errors: Int
        var seconds: Double
        var perSecond: Double
        var p50Micros: Double
        var p95Micros: Double
        var p99Micros: Double
        var concurrency: Int
        var firstError: String?
    }

    func run() throws {
        let (method, path, contentType, payload) = try request()
        let seconds = Double(ageSeconds(duration) ?? 10)
        let budget = Atomic<Int>(requests ?? Int.max)
        let latencies = Mutex<[UInt64]>([])
        let errors = Atomic<Int>(0)
        let firstError = Mutex<String?>(nil)
        let socketPath = connection.path
        let start = ContinuousClock.now
        let end = start + .milliseconds(Int64(seconds * 1000))
        let useDuration = requests == nil
        DispatchQueue.concurrentPerform(iterations: concurrency) { _ in
            let client = DLAClient(socketPath: socketPath)
            var mine: [UInt64] = []
            mine.reserveCapacity(100_000)
            while true {
                if useDuration { if ContinuousClock.now >= end { break } } else if budget.subtract(1, ordering: .relaxed).newValue < 0 { break }
                let sent = ContinuousClock.now
                do throws(DLAClientError) {
                    let response = try client.send(method, path, contentType: contentType, body: payload)
                    let elapsed = ContinuousClock.now - sent
                    if response.status == 200 {
                        mine.append(UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000))
                    } else {
                        errors.add(1, ordering: .relaxed)
                        firstError.withLock { $0 = $0 ?? "HTTP \(response.status): \(DLAClient.failure(response))" }
                    }
                } catch {
                    errors.add(1, ordering: .relaxed)
                    firstError.withLock { $0 = $0 ?? error.description }
                    if useDuration { usleep(10_000) }
                }
            }
            latencies.withLock { $0 += mine }
        }
        let elapsed = ContinuousClock.now - start
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let sorted = latencies.withLock { $0 }.sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]) / 1000
        }
        let figures = Figures(requests: sorted.count, errors: errors.load(ordering: .relaxed), seconds: wall,
                              perSecond: Double(sorted.count) / wall, p50Micros: percentile(0.50), p95Micros: percentile(0.95),
                              p99Micros: percentile(0.99), concurrency: concurrency, firstError: firstError.withLock { $0 })
        if json { return try printJSON(figures) }
        print("\(figures.requests) requests in \(InspectReport.fixed(wall, 2)) s from \(concurrency) clients: \(InspectReport.fixed(figures.perSecond, 0)) /s")
        print("latency p50 \(InspectReport.fixed(figures.p50Micros, 0)) µs, p95 \(InspectReport.fixed(figures.p95Micros, 0)) µs, p99 \(InspectReport.fixed(figures.p99Micros, 0)) µs")
        if figures.errors > 0 { print("errors: \(figures.errors) (first: \(figures.firstError ?? "?"))") }
        if figures.requests == 0 { throw CLIError("no request succeeded: \(figures.firstError ?? "no answer")") }
    }

    private func request() throws -> (String, String, String?, [UInt8]) {
        if health { return ("GET", "/v1/health", nil, []) }
        let path = "/v1/models/\(DLAClient.escape(name ?? ""))/infer"
        let bytes = try readFileBytes(input ?? "", what: "input")
        switch body {
        case .npy:
            return ("POST", path, "application/x-npy", bytes)
        case .json:
            let array: NPYArray
            do {
                array = try NPY.read(bytes)
            } catch {
                throw CLIError("input \(input ?? ""): \(error)")
            }
            let values = array.asFloat32()
            let rows = max(array.shape.first ?? 1, 1)
            let width = values.count / rows
            var text = "{\"inputs\": ["
            for row in 0..<rows {
                if row > 0 { text += "," }
                text += "[" + values[(row * width)..<((row + 1) * width)].map { $0.description }.joined(separator: ",") + "]"
            }
            text += "]}"
            return ("POST", path, "application/json", Array(text.utf8))
        }
    }
}
