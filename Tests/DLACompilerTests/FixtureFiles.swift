import DLACompiler
import DLAFormat
import Foundation

/// The committed ONNX fixtures (`Tests/Fixtures`, made by `make fixtures`): paths, models,
/// `.npy` arrays and the manifest that describes them.
enum FixtureFiles {
    /// `Tests/Fixtures`, found from this file's location.
    static let root: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static func path(_ relative: String) -> String { root + "/" + relative }

    /// `models/<name>.onnx` through the importer.
    static func model(_ name: String) throws -> Graph {
        try ONNXImporter.load(path: path("models/\(name).onnx"))
    }

    static func array(_ relative: String) throws -> NPYArray {
        try NPY.read(path: path(relative))
    }

    /// A float array as a batch, cut to its first `rows` rows when given.
    static func batch(_ relative: String, rows: Int? = nil) throws -> FloatBatch {
        let array = try array(relative)
        let all = FloatBatch(shape: array.shape, values: array.asFloat32())
        guard let rows else { return all }
        return firstRows(all, rows)
    }

    static func firstRows(_ batch: FloatBatch, _ rows: Int) -> FloatBatch {
        guard let total = batch.shape.first, rows < total else { return batch }
        let rowSize = total == 0 ? 0 : batch.values.count / total
        return FloatBatch(shape: [rows] + batch.shape.dropFirst(), values: Array(batch.values[0..<(rows * rowSize)]))
    }

    /// The MNIST test labels (`data/mnist-test-300.labels.npy`), first `rows`.
    static func labels(rows: Int = 300) throws -> [Int64] {
        Array(try array("data/mnist-test-300.labels.npy").asInt64().prefix(rows))
    }

    /// `manifest.json`.
    static func manifest() throws -> FixtureManifest {
        try JSONDecoder().decode(FixtureManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path("manifest.json"))))
    }

    /// The manifest entry of `models/<name>.onnx`.
    static func entry(_ name: String) throws -> FixtureManifest.Fixture {
        guard let fixture = try manifest().fixtures.first(where: { $0.file == "models/\(name).onnx" }) else {
            throw FixtureError.notInManifest(name)
        }
        return fixture
    }

    /// The fixture's inputs by name (first `rows` rows) and its reference outputs (likewise).
    static func inputsAndReferences(_ name: String, rows: Int? = nil) throws -> (inputs: [String: FloatBatch], references: [String: FloatBatch]) {
        let fixture = try entry(name)
        var inputs: [String: FloatBatch] = [:]
        for port in fixture.inputs ?? [] {
            guard let data = port.data else { throw FixtureError.noData(name, port.name) }
            inputs[port.name] = try batch(data, rows: rows)
        }
        var references: [String: FloatBatch] = [:]
        for port in fixture.outputs ?? [] {
            guard let reference = port.reference else { throw FixtureError.noData(name, port.name) }
            references[port.name] = try batch(reference, rows: rows)
        }
        return (inputs, references)
    }

    /// Index of the largest value of each row of a `[rows, classes]` batch.
    static func top1(_ batch: FloatBatch) -> [Int] {
        guard let rows = batch.shape.first, rows > 0 else { return [] }
        let classes = batch.values.count / rows
        return (0..<rows).map { row in
            let slice = batch.values[(row * classes)..<((row + 1) * classes)]
            return (slice.indices.max { slice[$0] < slice[$1] } ?? row * classes) - row * classes
        }
    }
}

enum FixtureError: Error, CustomStringConvertible {
    case notInManifest(String)
    case noData(String, String)

    var description: String {
        switch self {
        case .notInManifest(let name): "models/\(name).onnx is not in Tests/Fixtures/manifest.json"
        case .noData(let name, let port): "\(name): no data file for '\(port)' in the manifest"
        }
    }
}

/// The parts of `Tests/Fixtures/manifest.json` the tests read.
struct FixtureManifest: Decodable {
    var fixtures: [Fixture]

    struct Fixture: Decodable {
        var file: String
        var kind: String
        var ops: [String]?
        var inputs: [Port]?
        var outputs: [Port]?
        var labels: String?
        var reference: String?
        var expectedError: String?
        var outputQuantization: OutputQuantization?

        enum CodingKeys: String, CodingKey {
            case file, kind, ops, inputs, outputs, labels, reference
            case expectedError = "expected_error"
            case outputQuantization = "output_quantization"
        }

        /// "mlp-float" for "models/mlp-float.onnx".
        var modelName: String? {
            guard file.hasPrefix("models/"), file.hasSuffix(".onnx") else { return nil }
            return String(file.dropFirst("models/".count).dropLast(".onnx".count))
        }
    }

    struct Port: Decodable {
        var name: String
        /// Numbers, or the batch symbol as a string.
        var shape: [Dimension]
        var dtype: String
        var data: String?
        var reference: String?
    }

    enum Dimension: Decodable, Equatable {
        case fixed(Int)
        case symbolic(String)

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Int.self) { self = .fixed(value) } else { self = .symbolic(try container.decode(String.self)) }
        }
    }

    struct OutputQuantization: Decodable {
        var scale: Double
        var zeroPoint: Int
        var zeroPointDtype: String

        enum CodingKeys: String, CodingKey {
            case scale
            case zeroPoint = "zero_point"
            case zeroPointDtype = "zero_point_dtype"
        }
    }
}
