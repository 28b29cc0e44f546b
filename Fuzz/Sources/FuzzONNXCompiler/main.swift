import DLACompiler
import FuzzDriver
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// libFuzzer entry for the ONNX importer through lowering: the input is an ONNX file, compiled
/// as its own quantization says (QDQ / QOperator models), or, for a float model, to FP16 or to
/// INT8 calibrated on two rows of the declared input shape (the input's size picks which).
/// Compilation ends by building the engine's executor for the result. Any stage may refuse
/// with an error; a crash, a trap or a sanitizer report is a bug.
func fuzzONNXCompiler(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let graph = try? ONNXImporter.importModel(Data(bytes: data, count: size)) else { return 0 }
    var options = CompileOptions()
    if (try? Compiler.compile(graph, options: options)) != nil { return 0 }
    if size % 2 == 0 {
        options.precision = .fp16
    } else {
        options.precision = .int8
        for input in graph.inputs {
            var shape = [2]
            for dimension in input.shape.dropFirst() {
                guard case .fixed(let value) = dimension, (1...4096).contains(value) else { return 0 }
                shape.append(value)
            }
            let count = shape.reduce(1, *)
            guard count <= 1 << 16 else { return 0 }
            options.calibration.append(FloatBatch(shape: shape, values: (0..<count).map { Float(data[$0 % size]) / 64 - 2 }))
        }
    }
    _ = try? Compiler.compile(graph, options: options)
    return 0
}

runFuzzer { data, size in fuzzONNXCompiler(data, size) }
