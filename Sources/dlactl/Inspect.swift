import ArgumentParser
import DLACompiler
import DLAFormat
import NVDLALoadable

/// `dlactl inspect`: what a `.dla` file holds and what its compression bought, or what an NVIDIA
/// NVDLA loadable holds.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a .dla model (interface, per-op table, signature, compression ratio) or an NVDLA loadable.",
        discussion: """
            The compression ratio is counted as Deep Compression does: FP32 bytes of all weights \
            and biases divided by the bytes of the stored parameter payload (encoded weights, \
            indices, codebooks, Huffman tables, scales, biases; not metadata, graph or self-test \
            vectors). --json prints the schema documented in docs/FORMAT.md. \
            An NVDLA loadable (the flatbuffers file NVIDIA's compiler writes) is recognized by its \
            content and shown as its bound inputs and outputs and tables of its tasks, submit list, \
            events, memories, addresses, tensors, blobs and relocations (docs/EMULATOR.md).
            """
    )

    @Argument(help: "The .dla file or NVDLA loadable.")
    var model: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(name: .customLong("trusted-key"), help: "A public key file (from 'dlactl keygen'); only signatures by trusted keys count as valid. Repeatable.")
    var trustedKeys: [String] = []

    func run() throws {
        let bytes = try readFileBytes(model, what: "model")
        if NVDLALoadableFile.looksLikeLoadable(bytes) {
            try inspectLoadable(bytes)
            return
        }
        var options = DLAReadOptions()
        if !trustedKeys.isEmpty {
            options.trustedKeys = try trustedKeys.map { try DLAPublicKey.load(path: $0) }
        }
        let loaded: DLALoadedModel
        do {
            loaded = try DLAFile.read(bytes, options: options)
        } catch {
            throw CLIError("\(model): \(error)")
        }
        let summary = DLAModelSummary(loaded)
        print(json ? summary.jsonString() : InspectReport(summary).text)
    }

    private func inspectLoadable(_ bytes: [UInt8]) throws {
        guard trustedKeys.isEmpty else {
            throw CLIError("\(model): an NVDLA loadable carries no signature; --trusted-key applies to .dla models")
        }
        let loadable: NVDLALoadableFile
        do {
            loadable = try NVDLALoadableFile(bytes: bytes)
        } catch {
            throw CLIError("\(model): NVDLA loadable: \(error)")
        }
        print(json ? LoadableSummary(loadable, fileBytes: bytes.count).jsonString()
                   : LoadableReport(loadable: loadable, fileBytes: bytes.count).text)
    }
}

/// The human-readable form of a `DLAModelSummary`.
struct InspectReport {
    let summary: DLAModelSummary
    init(_ summary: DLAModelSummary) { self.summary = summary }

    var text: String {
        var lines: [String] = []
        let s = summary
        lines.append("model       \(s.name) (version \(s.version))")
        if !s.description.isEmpty { lines.append("description \(s.description)") }
        lines.append("producer    \(s.producer)")
        lines.append("profile     \(s.profile)    precision \(s.precision)    format \(s.formatVersion)")
        lines.append("sha256      \(s.sha256)")
        var signature = s.signature.status
        if let keyID = s.signature.keyID { signature += " (key \(keyID))" }
        if let reason = s.signature.reason { signature += ": \(reason)" }
        lines.append("signature   \(signature)")
        for input in s.inputs { lines.append("input       \(Self.describe(input))") }
        for output in s.outputs { lines.append("output      \(Self.describe(output))") }
        lines.append("")
        var table = TextTable(["#", "op", "unit", "type", "precision", "shape", "stored B", "density", "encoding", "bits/w"],
                              rightAligned: [0, 6, 7, 9])
        for (index, op) in s.ops.enumerated() {
            let hasWeights = op.parameters > 0
            table.append([
                "\(index)", op.name, op.unit, op.type, op.precision, Self.shape(op.shape),
                hasWeights ? "\(op.storedBytes)" : "-",
                hasWeights ? Self.percent(op.density) : "-",
                hasWeights ? op.encoding : "-",
                hasWeights ? Self.fixed(op.bitsPerWeight, 2) : "-",
            ])
        }
        lines.append(contentsOf: table.render())
        lines.append("")
        let density = s.parameters == 0 ? 0 : Double(s.nonzeroParameters) / Double(s.parameters)
        lines.append("parameters      \(s.parameters) (\(s.nonzeroParameters) nonzero, density \(Self.percent(density)))")
        lines.append("FP32 bytes      \(s.fp32Bytes)")
        lines.append("parameter bytes \(s.parameterBytes)")
        lines.append("file bytes      \(s.fileBytes)")
        lines.append("compression     \(Self.fixed(s.compressionRatio, 1))× (FP32 weights and biases ÷ stored parameter payload)")
        return lines.joined(separator: "\n")
    }

    static func describe(_ interface: DLAModelSummary.Interface) -> String {
        var text = "\(interface.name): \(interface.dtype) \(shape(interface.shape))"
        let q = interface.quantization
        switch q.kind {
        case "per-tensor":
            text += " scale \(q.scale.map { "\($0)" } ?? "?") zero point \(q.zeroPoint.map { "\($0)" } ?? "?")"
        case "per-channel":
            text += " per-channel (axis \(q.axis ?? 0), \(q.channels ?? 0) channels)"
        default:
            break
        }
        return text
    }

    /// Symbolic dimensions (stored as values ≤ 0) print as `N`.
    static func shape<T: BinaryInteger>(_ dims: [T]) -> String {
        "[" + dims.map { $0 <= 0 ? "N" : "\($0)" }.joined(separator: "×") + "]"
    }

    static func percent(_ fraction: Double) -> String { fixed(fraction * 100, 1) + "%" }

    static func fixed(_ value: Double, _ digits: Int) -> String { Decimal2(value, digits: digits).description }
}
