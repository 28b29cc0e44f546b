import DLAFormat
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Writes the seed corpus (`Fuzz/seeds/{dla,npy}`): small valid files that reach every section
/// and every tensor encoding, so that mutations start from deep inside the readers.
/// Run by `make fuzz-seeds`; the seeds are committed.
let output = CommandLine.arguments.dropFirst().first ?? "seeds"

func write(_ bytes: [UInt8], _ path: String) {
    let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        fatalError("cannot write \(path)")
    }
}

/// A fixed linear congruential sequence, so the seeds are the same bytes on every run.
struct SeedRandom {
    var state: UInt64 = 0x5EED
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
}
var random = SeedRandom()
@MainActor func next() -> UInt64 { random.next() }

func model(_ weight: DLAWeightTensor, selfTest: Bool) -> DLAModel {
    let rows = weight.shape[0]
    let columns = weight.shape.dropFirst().reduce(1, *)
    let input = DLATensorSpec(name: "x", shape: [-1, Int64(columns)], dataType: .int8, quantization: .perTensor(scale: 0.5, zeroPoint: -3))
    let output = DLATensorSpec(name: "y", shape: [-1, Int64(rows)], dataType: .int8, quantization: .perTensor(scale: 0.25, zeroPoint: 0))
    let probabilities = DLATensorSpec(name: "p", shape: [-1, Int64(rows)], dataType: .float32)
    let bias = DLAWeightTensor(name: "bias", shape: [rows], values: .int32((0..<rows).map { Int32($0) * 3 - 5 }))
    let metadata = DLAMetadata(name: "seed", description: "fuzz seed", producer: "FuzzSeeds", createdAt: 0,
                               targetProfile: "nv_full", precision: weight.dataType.description, modelVersion: 1,
                               inputs: [input], outputs: [probabilities], properties: [DLAProperty(key: "labels", value: "a,b")])
    let graph = DLAGraph(tensors: [input, output, probabilities], inputs: [0], outputs: [2], operations: [
        DLAOperation(name: "fc", unit: .convolution, type: "fc", inputs: [0], outputs: [1], attributes: [
            DLAAttribute("weight", .weight(0)), DLAAttribute("bias", .weight(1)), DLAAttribute("activation", .string("relu")),
            DLAAttribute("stride", .ints([1, 1])), DLAAttribute("alpha", .float(0.1)), DLAAttribute("table", .floats([0, 0.5, 1])),
            DLAAttribute("groups", .int(1)),
        ]),
        DLAOperation(name: "softmax", unit: .cpu, type: "softmax", inputs: [1], outputs: [2]),
    ])
    var tests: [DLASelfTest] = []
    if selfTest {
        tests = [DLASelfTest(name: "zeros",
                             inputs: [DLASelfTestTensor(shape: [1, columns], values: .int8([Int8](repeating: 0, count: columns)))],
                             expectedOutputs: [DLASelfTestTensor(shape: [1, rows], values: .float32([Float](repeating: 1 / Float(rows), count: rows)))],
                             tolerance: 0.001)]
    }
    return DLAModel(metadata: metadata, graph: graph, weights: [weight, bias], selfTests: tests)
}

let rows = 8, columns = 40
let sparse = (0..<(rows * columns)).map { _ in next() % 5 == 0 ? Int8(truncatingIfNeeded: Int(next() % 7) - 3) : 0 }
let perChannel = DLAQuantization.perChannel(axis: 0, scales: (0..<rows).map { 0.01 * Float($0 + 1) },
                                            zeroPoints: [Int32](repeating: 0, count: rows))
let encodings: [(String, DLATensorEncoding)] = [
    ("dense", .dense),
    ("sparse-g2", DLATensorEncoding(gapBits: 2)),
    ("sparse-g4-huffman", DLATensorEncoding(gapBits: 4, huffmanValues: true, huffmanGaps: true)),
    ("codebook-b3", DLATensorEncoding(codebookBits: 3)),
    ("codebook-b3-sparse-huffman", DLATensorEncoding(gapBits: 3, codebookBits: 3, huffmanValues: true, huffmanGaps: true)),
    ("huffman-values", DLATensorEncoding(huffmanValues: true)),
]
for (index, (name, encoding)) in encodings.enumerated() {
    let weight = DLAWeightTensor(name: "w", shape: [rows, columns], values: .int8(sparse), quantization: perChannel, encoding: encoding)
    write(try DLAFile.write(model(weight, selfTest: index == 0), environment: [:]), "\(output)/dla/\(name).dla")
}
let typed: [(String, DLATensorValues, DLAQuantization)] = [
    ("uint8", .uint8((0..<(rows * columns)).map { _ in UInt8(truncatingIfNeeded: next()) }), .perTensor(scale: 0.1, zeroPoint: 128)),
    ("fp8e4m3", .fp8e4m3((0..<(rows * columns)).map { _ in UInt8(truncatingIfNeeded: next()) & 0x77 }), .perTensor(scale: 0.5, zeroPoint: 0)),
    ("fp8e5m2", .fp8e5m2((0..<(rows * columns)).map { _ in UInt8(truncatingIfNeeded: next()) & 0x7B }), .none),
    ("fp16", .float16((0..<(rows * columns)).map { _ in UInt16(truncatingIfNeeded: next()) & 0x3BFF }), .none),
    ("fp32", .float32((0..<(rows * columns)).map { Float($0 % 9) - 4 }), .none),
]
for (name, values, quantization) in typed {
    let weight = DLAWeightTensor(name: "w", shape: [rows, columns], values: values, quantization: quantization)
    write(try DLAFile.write(model(weight, selfTest: false), environment: [:]), "\(output)/dla/\(name).dla")
}
let key = try DLASigningKey(rawRepresentation: [UInt8](repeating: 7, count: 32))
let signed = DLAWeightTensor(name: "w", shape: [rows, columns], values: .int8(sparse), quantization: perChannel)
write(try DLAFile.write(model(signed, selfTest: true), signingKey: key, environment: [:]), "\(output)/dla/signed.dla")

let arrays: [(String, NPYArray, NPYVersion)] = [
    ("f32-v1", try NPYArray(float32: [0, 0.5, -1, 3], shape: [2, 2]), .v1_0),
    ("f64-v2", try NPYArray(float64: [1, 2, 3], shape: [3]), .v2_0),
    ("f16-v3", try NPYArray(float16Bits: [0x3C00, 0x0000], shape: [2, 1]), .v3_0),
    ("i8-scalar", try NPYArray(int8: [-5], shape: []), .v1_0),
    ("u8", try NPYArray(uint8: [1, 2, 3, 4, 5, 6], shape: [1, 2, 3]), .v1_0),
    ("i32", try NPYArray(int32: [7, -7], shape: [2]), .v1_0),
    ("i64-labels", try NPYArray(int64: [3, 1, 4, 1, 5], shape: [5]), .v1_0),
]
for (name, array, version) in arrays {
    write(NPY.write(array, version: version), "\(output)/npy/\(name).npy")
}
print("wrote seeds to \(output)")
