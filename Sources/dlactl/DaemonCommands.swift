import ArgumentParser
import DLAAPI
import DLAClient
import DLAFormat
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `--socket` for every command that talks to dlad; `DLAD_SOCKET`, then the installed path.
struct DaemonConnection: ParsableArguments {
    @Option(help: ArgumentHelp("dlad's socket (default: $DLAD_SOCKET, else /run/dlad/dlad.sock).", valueName: "path"))
    var socket: String?

    var path: String {
        socket ?? ProcessInfo.processInfo.environment["DLAD_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } ?? DLAClient.defaultSocketPath
    }

    func client() -> DLAClient { DLAClient(socketPath: path) }
}

/// Runs a client call; a server error becomes the server's own message as one `error:` line.
func talking<T>(_ body: () throws(DLAClientError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw CLIError(error.description)
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show whether dlad is healthy (exit code 1 when degraded).")
    @OptionGroup var connection: DaemonConnection
    @Flag(help: "Print the server's JSON.") var json = false

    func run() throws {
        let health = try talking { () throws(DLAClientError) in try connection.client().health() }
        if json {
            try printJSON(health)
        } else {
            print("status    \(health.status)\(health.reasons.isEmpty ? "" : ": " + health.reasons.joined(separator: "; "))")
            print("version   \(health.version), up \(InspectReport.fixed(health.uptimeSeconds, 1)) s")
            print("models    \(health.models)")
            print("served    \(health.inferencesServed) inferences")
            print("engines   \(health.engines.cores) cores, \(health.engines.busy) busy, \(health.engines.queued)/\(health.engines.queueCapacity) queued, \(health.engines.stuck) stuck")
            print("database  \(health.database.writable ? "writable" : "NOT writable"), \(health.database.bytes) bytes")
        }
        if health.status != "ok" { throw ExitCode(1) }
    }
}

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the models in dlad's registry.")
    @OptionGroup var connection: DaemonConnection
    @Flag(help: "Print the server's JSON.") var json = false

    func run() throws {
        let list = try talking { () throws(DLAClientError) in try connection.client().models() }
        if json { return try printJSON(list) }
        var table = TextTable(["MODEL", "ACTIVE", "VERSIONS", "PRECISION", "PROFILE", "RATIO", "BYTES"], rightAligned: [1, 2, 5, 6])
        for model in list.models {
            let active = model.versions.first { $0.active }
            table.append([model.name, model.activeVersion.map { "v\($0)" } ?? "-", String(model.versions.count),
                          active?.precision ?? "-", active?.profile ?? "-",
                          active?.compressionRatio.map { InspectReport.fixed($0, 1) + "x" } ?? "-", active.map { String($0.bytes) } ?? "-"])
        }
        table.render().forEach { print($0) }
    }
}

struct Model: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one model's versions.")
    @OptionGroup var connection: DaemonConnection
    @Argument(help: "Model name.") var name: String
    @Flag(help: "Print the server's JSON.") var json = false

    func run() throws {
        let model = try talking { () throws(DLAClientError) in try connection.client().model(name) }
        if json { return try printJSON(model) }
        print("\(model.name): active \(model.activeVersion.map { "v\($0)" } ?? "none")")
        var table = TextTable(["VERSION", "", "CREATED", "PRECISION", "PROFILE", "RATIO", "BYTES", "SIGNED BY", "SHA-256"], rightAligned: [0, 5, 6])
        for version in model.versions {
            table.append(["v\(version.version)", version.active ? "*" : "", version.createdAt, version.precision, version.profile,
                          version.compressionRatio.map { InspectReport.fixed($0, 1) + "x" } ?? "-", String(version.bytes),
                          version.signature ?? "-", String(version.sha256.prefix(16))])
        }
        table.render().forEach { print($0) }
        if let active = model.versions.first(where: \.active) {
            func shape(_ tensor: TensorInterface) -> String { "[" + tensor.shape.map { $0 < 0 ? "N" : String($0) }.joined(separator: ", ") + "]" }
            for tensor in active.inputs { print("input  \(tensor.name) \(tensor.dtype) \(shape(tensor))") }
            for tensor in active.outputs { print("output \(tensor.name) \(tensor.dtype) \(shape(tensor))") }
        }
    }
}

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push a .dla model to dlad as a new version (root or the admin group only).",
        discussion: "The daemon checks the file (checksums, signature policy, the engine building it, its self-test vectors) before storing it. Pushing the same bytes again answers the existing version.")
    @OptionGroup var connection: DaemonConnection
    @Argument(help: "The .dla file.") var file: String
    @Option(help: "Model name in the registry (default: the name inside the file).") var name: String?
    @Flag(help: "Activate the new version in the same step.") var activate = false
    @Flag(help: "Print the server's JSON.") var json = false

    func run() throws {
        let bytes = try readFileBytes(file, what: "model")
        let modelName = try name ?? Self.nameInside(bytes, path: file)
        var progress = Progress("push: bytes", total: bytes.count)
        let pushed = try talking { () throws(DLAClientError) in
            try connection.client().push(name: modelName, bytes: bytes, activate: activate) { progress.update($0) }
        }
        progress.finish()
        if json { return try printJSON(pushed) }
        let what = pushed.created ? "pushed as" : "already stored as"
        print("\(pushed.name): \(what) v\(pushed.version)\(pushed.activated ? ", active" : "") (\(pushed.bytes) bytes, sha256 \(pushed.sha256.prefix(16)), \(pushed.selfTestsPassed) self-test vector(s) passed)")
    }

    /// The model's own name, so that `dlactl push model.dla` needs no `--name`.
    static func nameInside(_ bytes: [UInt8], path: String) throws -> String {
        do {
            return try DLAFile.read(bytes).metadata.name
        } catch {
            throw CLIError("\(path): \(error)")
        }
    }
}

struct Activate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Make a version the one new requests use (root or the admin group only).")
    @OptionGroup var connection: DaemonConnection
    @Argument(help: "Model name.") var name: String
    @Argument(help: "Version number.") var version: Int

    func run() throws {
        let result = try talking { () throws(DLAClientError) in try connection.client().activate(name: name, version: version) }
        print("\(result.name): v\(result.activeVersion) active\(result.previousVersion.map { " (was v\($0))" } ?? "")")
    }
}

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Return to the previously active version (root or the admin group only).")
    @OptionGroup var connection: DaemonConnection
    @Argument(help: "Model name.") var name: String

    func run() throws {
        let result = try talking { () throws(DLAClientError) in try connection.client().rollback(name: name) }
        print("\(result.name): rolled back to v\(result.activeVersion)\(result.previousVersion.map { " (was v\($0))" } ?? "")")
    }
}

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a version that is not active (root or the admin group only).")
    @OptionGroup var connection: DaemonConnection
    @Argument(help: "Model name.") var name: String
    @Argument(help: "Version number.") var version: Int

    func run() throws {
        try talking { () throws(DLAClientError) in try connection.client().deleteVersion(name: name, version: version) }
        print("\(name): v\(version) deleted")
    }
}

struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an inference on dlad with an .npy input.",
        discussion: "The input is [N, …input shape] float32 (or the input's int8 codes). --output writes the outputs as float32 .npy, bit for bit what `dlactl run` writes; without it the top-1 class of every sample is printed.")
    @OptionGroup var connection: DaemonConnection
    @Argument(help: "Model name.") var name: String
    @Option(help: ArgumentHelp("Input .npy.", valueName: "x.npy")) var input: String
    @Option(help: ArgumentHelp("Write the outputs here as .npy.", valueName: "y.npy")) var output: String?
    @Option(help: "Run this version instead of the active one.") var version: Int?
    @Flag(help: "Print the server's JSON.") var json = false

    func run() throws {
        let bytes = try readFileBytes(input, what: "input")
        let client = connection.client()
        if let output {
            let response = try talking { () throws(DLAClientError) in try client.infer(name: name, npy: bytes, version: version, acceptNPY: true) }
            guard FileManager.default.createFile(atPath: output, contents: Data(response.body)) else {
                throw CLIError("cannot write output '\(output)'")
            }
            let id = response.header("x-inference-id") ?? "?"
            print("\(name) v\(response.header("x-model-version") ?? "?"): inference \(id), outputs written to \(output)")
            return
        }
        let response = try talking { () throws(DLAClientError) in try client.infer(name: name, npy: bytes, version: version, acceptNPY: false) }
        if json { return print(String(decoding: response.body, as: UTF8.self), terminator: "") }
        let answer: InferResponse
        do {
            answer = try JSONDecoder().decode(InferResponse.self, from: Data(response.body))
        } catch {
            throw CLIError("unexpected answer from dlad: \(error)")
        }
        print("\(answer.model) v\(answer.version): inference \(answer.id), \(answer.latencyMicros) µs, emulated \(answer.emulated.cycles) cycles, \(InspectReport.fixed(answer.emulated.energyMicrojoules, 3)) µJ on \(answer.emulated.profile)")
        var table = TextTable(["SAMPLE", "CLASS", "SCORE"], rightAligned: [0, 1, 2])
        for (index, top) in answer.top1.enumerated() { table.append([String(index), String(top.index), InspectReport.fixed(Double(top.score), 4)]) }
        table.render().forEach { print($0) }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Per-model counts, error rate and latency percentiles over a window.")
    @OptionGroup var connection: DaemonConnection
    @Option(help: ArgumentHelp("Window, e.g. 90s, 15m, 1h, 7d.", valueName: "age")) var window: String = "1h"
    @Flag(help: "Print the server's JSON.") var json = false

    func run() throws {
        guard let seconds = ageSeconds(window) else { throw ValidationError("--window: expected a number with s, m, h or d, got '\(window)'") }
        let stats = try talking { () throws(DLAClientError) in try connection.client().stats(windowSeconds: seconds) }
        if json { return try printJSON(stats) }
        var table = TextTable(["MODEL", "COUNT", "ERRORS", "ERROR %", "P50 µs", "P95 µs", "P99 µs"], rightAligned: [1, 2, 3, 4, 5, 6])
        for model in stats.models {
            table.append([model.name, String(model.count), String(model.errors), InspectReport.fixed(model.errorRate * 100, 2),
                          model.latencyP50Micros.map(String.init) ?? "-", model.latencyP95Micros.map(String.init) ?? "-",
                          model.latencyP99Micros.map(String.init) ?? "-"])
        }
        print("last \(window):")
        table.render().forEach { print($0) }
    }
}
