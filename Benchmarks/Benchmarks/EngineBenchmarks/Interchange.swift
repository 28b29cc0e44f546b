#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAFormat

/// `Benchmarks/.work/models/<model>/model.json` (`dlad-peer-interchange`, version 1), as
/// Benchmarks/README.md describes it: quantized layers in NCHW, shapes without the batch.
struct InterchangeModel: Decodable {
    struct Interface: Decodable {
        var shape: [Int]
        var scale: Float
        var zeroPoint: Int32
    }

    struct Layer: Decodable {
        var name: String
        var type: String
        var inputShape: [Int]
        var outputShape: [Int]
        var inputScale: Float
        var inputZeroPoint: Int32
        var outputScale: Float
        var outputZeroPoint: Int32
        var weight: String?
        var weightShape: [Int]?
        var weightScales: String?
        var bias: String?
        var relu: Bool?
        var stride: Int?
        var padding: Int?
        var dilation: Int?
        var groups: Int?
        var kernel: Int?
    }

    struct Reference: Decodable {
        var images: String
        var labels: String
        var outputCodes: String
    }

    var format: String
    var version: Int
    var name: String
    var input: Interface
    var output: Interface
    var layers: [Layer]
    var reference: Reference

    /// Reads and checks the format tag and version.
    static func load(directory: String) throws -> InterchangeModel {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/model.json"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let model = try decoder.decode(InterchangeModel.self, from: bytes)
        guard model.format == "dlad-peer-interchange", model.version == 1 else {
            throw BenchmarkError("\(directory)/model.json: expected format dlad-peer-interchange version 1, found \(model.format) version \(model.version)")
        }
        return model
    }

    /// Multiply-accumulates per inference of the fc and conv layers (dense, zeros included).
    var macsPerInference: Int {
        layers.reduce(0) { total, layer in
            guard let weightShape = layer.weightShape, layer.type == "fc" || layer.type == "conv" else { return total }
            let outputPixels = layer.type == "conv" ? layer.outputShape.dropFirst().reduce(1, *) : 1
            return total + weightShape.reduce(1, *) * outputPixels
        }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Typed reads of the interchange's `.npy` files, naming the file and dtype on mismatch.
enum NPYFile {
    static func array(_ path: String) throws -> NPYArray {
        do {
            return try NPY.read(path: path)
        } catch {
            throw BenchmarkError("\(path): \(error)")
        }
    }

    static func int8(_ path: String) throws -> (values: [Int8], shape: [Int]) {
        let array = try array(path)
        guard array.dtype == .int8 else { throw BenchmarkError("\(path): expected int8, found \(array.dtype)") }
        return (array.data.map { Int8(bitPattern: $0) }, array.shape)
    }

    static func int32(_ path: String) throws -> [Int32] {
        let array = try array(path)
        guard array.dtype == .int32 else { throw BenchmarkError("\(path): expected int32, found \(array.dtype)") }
        return try array.asInt64().map { Int32(truncatingIfNeeded: $0) }
    }

    static func int64(_ path: String) throws -> [Int64] {
        let array = try array(path)
        guard array.dtype == .int64 else { throw BenchmarkError("\(path): expected int64, found \(array.dtype)") }
        return try array.asInt64()
    }

    static func float32(_ path: String) throws -> (values: [Float], shape: [Int]) {
        let array = try array(path)
        guard array.dtype == .float32 else { throw BenchmarkError("\(path): expected float32, found \(array.dtype)") }
        return (array.asFloat32(), array.shape)
    }
}
