import ArgumentParser
import DLACompiler
import DLAFormat
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `dlactl compile`: ONNX → compressed `.dla`, with a Deep Compression-style report.
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile an ONNX model into a compressed .dla for the emulated accelerator.",
        discussion: """
        Quantized ONNX models (QDQ or ONNX Runtime's QOperator form, INT8/UINT8/FP8) keep their own \
        scales and zero points. Float models need --precision, and --calibration for INT8 and FP8. \
        Operations NVDLA lacks run on the CPU fallback and are listed in the report.
        """
    )

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(name: [.short, .customLong("output")], help: "Where to write the .dla file.")
    var output: String

    @Option(help: "Model name stored in the file (default: the ONNX graph's name).")
    var name: String?

    @Option(help: "Float models: int8, fp8-e4m3, fp8-e5m2 or fp16.")
    var precision: String?

    @Option(help: "Float models: representative inputs (.npy, float32, [N, …input shape]) for activation ranges; repeat it for a model with several inputs, in the order of its inputs.")
    var calibration: [String] = []

    @Option(name: .customLong("calibration-method"), help: "minmax, percentile or entropy.")
    var calibrationMethod: String = "minmax"

    @Option(help: "Percentile for --calibration-method percentile.")
    var percentile: Double = 99.99

    @Option(help: "Target hardware profile: nv_small, nv_large, nv_full or xavier.")
    var profile: String = "nv_full"

    @Option(help: "Magnitude pruning to this sparsity (0 ≤ S < 1), e.g. 0.9.")
    var prune: Double?

    @Option(name: .customLong("prune-scope"), help: "layer (every layer to S) or global (one threshold).")
    var pruneScope: String = "layer"

    @Option(name: .customLong("share-bits"), help: "k-means weight sharing: at most 2^B distinct values per layer (1–8).")
    var shareBits: Int?

    @Option(name: .customLong("validate"), parsing: .upToNextOption,
            help: "IMAGES.npy LABELS.npy: top-1 on the emulator before and after compression (float32 images, int64 labels).")
    var validationFiles: [String] = []

    @Option(name: .customLong("max-accuracy-drop"), help: "Largest allowed top-1 drop from compression, in percentage points.")
    var maxAccuracyDrop: Double = 0.5

    @Option(help: "Model version stored in the file.")
    var version: Int64 = 1

    @Option(name: .customLong("self-test"), help: "Store the emulator's outputs for the first rows of this .npy (float32) as self-test vectors.")
    var selfTest: String?

    @Option(name: .customLong("self-test-rows"), help: "How many rows of --self-test to store.")
    var selfTestRows: Int = 8

    @Option(help: "Sign the file with this private key (from `dlactl keygen`).")
    var sign: String?

    func validate() throws {
        guard validationFiles.isEmpty || validationFiles.count == 2 else {
            throw ValidationError("--validate takes two files: --validate IMAGES.npy LABELS.npy")
        }
    }

    func run() throws {
        var options = CompileOptions()
        options.name = name
        options.profile = profile
        options.modelVersion = version
        options.createdAt = Int64(Date().timeIntervalSince1970)
        if let precision {
            guard let value = Precision(rawValue: precision) else {
                throw CLIError("--precision '\(precision)': expected \(Precision.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            options.precision = value
        }
        switch calibrationMethod {
        case "minmax": options.calibrationMethod = .minMax
        case "percentile": options.calibrationMethod = .percentile(percentile)
        case "entropy": options.calibrationMethod = .entropy
        default: throw CLIError("--calibration-method '\(calibrationMethod)': expected minmax, percentile or entropy")
        }
        guard let scope = CompressionOptions.PruneScope(rawValue: pruneScope) else {
            throw CLIError("--prune-scope '\(pruneScope)': expected layer or global")
        }
        options.compression = CompressionOptions(sparsity: prune, scope: scope, shareBits: shareBits)
        options.calibration = try calibration.map { path in try Self.floatArray(path, what: "calibration") }
        if let selfTest {
            guard selfTestRows >= 1 else { throw CLIError("--self-test-rows \(selfTestRows): give at least 1") }
            let all = try Self.floatArray(selfTest, what: "self-test inputs")
            let rows = min(selfTestRows, all.shape[0])
            options.selfTestInputs = FloatBatch(shape: [rows] + all.shape.dropFirst(), values: Array(all.values.prefix(rows * (all.values.count / all.shape[0]))))
        }
        let signingKey: DLASigningKey?
        do {
            signingKey = try sign.map { path throws(DLAFormatError) in try DLASigningKey.load(path: path) }
        } catch {
            throw CLIError("--sign: \(error)")
        }

        let graph: Graph
        do {
            graph = try ONNXImporter.load(path: model)
        } catch {
            throw CLIError("\(model): \(error)")
        }
        let started = ContinuousClock.now
        let compilation: Compilation
        do {
            compilation = try Compiler.compile(graph, options: options) { stage in Self.status(stage) }
        } catch {
            Self.status(nil)
            throw CLIError("\(model): \(error)")
        }
        Self.status(nil)

        var validation: (before: Double, after: Double)?
        if validationFiles.count == 2 {
            let images = try Self.floatArray(validationFiles[0], what: "validation images")
            let labels = try Self.labels(validationFiles[1])
            do {
                Self.status("validating the compressed model")
                let after = try Compiler.accuracy(of: compilation, images: images, labels: labels, threads: 2)
                var before = after
                if options.compression != CompressionOptions() {
                    Self.status("validating the uncompressed model")
                    var plain = options
                    plain.compression = CompressionOptions()
                    let reference = try Compiler.compile(graph, options: plain)
                    before = try Compiler.accuracy(of: reference, images: images, labels: labels, threads: 2)
                }
                Self.status(nil)
                validation = (before, after)
            } catch {
                Self.status(nil)
                throw CLIError("\(error)")
            }
        }

        var bytes = compilation.fileBytes
        if let signingKey {
            do {
                bytes = try DLAFile.sign(bytes, with: signingKey)
            } catch {
                throw CLIError("cannot sign the model: \(error)")
            }
        }
        for line in CompileReport.lines(compilation, seconds: (ContinuousClock.now - started).seconds) {
            print(line)
        }
        if let validation {
            print("top-1 on \(validationFiles[0]): \(Decimal2(validation.before * 100)) % uncompressed, \(Decimal2(validation.after * 100)) % compiled")
            let drop = (validation.before - validation.after) * 100
            if drop > maxAccuracyDrop {
                let error = CompilerError.accuracyDrop(before: validation.before, after: validation.after, allowed: maxAccuracyDrop / 100)
                throw CLIError("\(error); nothing written")
            }
        }
        do {
            // Written beside the target and renamed: a crash never leaves half a model at `output`.
            try Data(bytes).write(to: URL(fileURLWithPath: output + ".partial"))
            guard rename(output + ".partial", output) == 0 else {
                throw CLIError("cannot rename '\(output).partial' to '\(output)': \(String(cString: strerror(errno)))")
            }
        } catch let error as CLIError {
            try? FileManager.default.removeItem(atPath: output + ".partial")
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: output + ".partial")
            throw CLIError("cannot write '\(output)': \(describeFileError(error))")
        }
        print("wrote \(output) (\(bytes.count) bytes, sha256 \(compilation.summary.sha256))")
    }

    /// A stage line on stderr while the compiler works (terminals only), erased with nil.
    static func status(_ stage: String?) {
        guard isatty(2) == 1 else { return }
        writeStandardError(stage.map { "\r\($0)\u{1B}[K" } ?? "\r\u{1B}[K")
    }

    static func floatArray(_ path: String, what: String) throws -> FloatBatch {
        let array: NPYArray
        do {
            array = try NPY.read(readFileBytes(path, what: what))
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(what) '\(path)': \(error)")
        }
        guard array.shape.count >= 1, array.shape[0] > 0 else {
            throw CLIError("\(what) '\(path)': expected [N, …] with N ≥ 1, found shape \(array.shape)")
        }
        return FloatBatch(shape: array.shape, values: array.asFloat32())
    }

    static func labels(_ path: String) throws -> [Int64] {
        do {
            let array = try NPY.read(readFileBytes(path, what: "labels"))
            guard array.shape.count == 1 else { throw CLIError("labels '\(path)': expected a 1-D array, found shape \(array.shape)") }
            return try array.asInt64()
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("labels '\(path)': \(error)")
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
