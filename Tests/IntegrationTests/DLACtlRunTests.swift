import DLAFormat
import Foundation
import Testing

/// `dlactl run` and `perf`, run as processes on models and `.npy` files written here; expected
/// values come from `RunFixtures`' plain integer arithmetic.
@Suite struct DLACtlRunTests {
    /// `rows` MLP samples as floats: codes shifted by the zero point, scaled, with a quarter of
    /// them nudged to exact rounding ties, so the input converter's round-half-even matters.
    static func mlpInputs(rows: Int, seed: UInt64 = 3) -> (floats: [Float], codes: [Int8]) {
        var random = RunFixtures.Random(state: seed)
        var floats: [Float] = []
        for _ in 0..<(rows * 16) {
            let steps = Float(random.int(in: -120...120))
            let nudge: Float = random.int(in: 0...3) == 0 ? 0.5 : 0
            floats.append((steps + nudge) * RunFixtures.MLP.inputScale)
        }
        let codes = floats.map { RunFixtures.quantize($0, scale: RunFixtures.MLP.inputScale, zeroPoint: RunFixtures.MLP.inputZeroPoint) }
        return (floats, codes)
    }

    static func prepareMLP(_ directory: TemporaryDirectory, rows: Int, mlp: RunFixtures.MLP = RunFixtures.MLP()) throws -> (model: String, input: String, codes: [Int8]) {
        let model = directory.file("mlp.dla")
        try RunFixtures.write(mlp.model, to: model)
        let inputs = Self.mlpInputs(rows: rows)
        let input = directory.file("x.npy")
        try RunFixtures.writeNPY(try NPYArray(float32: inputs.floats, shape: [rows, 16]), input)
        return (model, input, inputs.codes)
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test func mlpMatchesIntegerArithmeticBitForBit() throws {
        let directory = try TemporaryDirectory()
        let mlp = RunFixtures.MLP()
        let rows = 9
        let (model, input, codes) = try Self.prepareMLP(directory, rows: rows, mlp: mlp)
        let logitsPath = directory.file("logits.npy"), probabilitiesPath = directory.file("p.npy")
        let result = try Executables.run("dlactl", ["run", model, "--input", input, "--output", logitsPath, "--output", probabilitiesPath])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty && result.stderr.isEmpty)

        var expectedLogits: [Float] = [], expectedProbabilities: [Float] = []
        for row in 0..<rows {
            let e = mlp.expected(codes: Array(codes[(row * 16)..<((row + 1) * 16)]))
            expectedLogits += e.logits.map { Float($0) * RunFixtures.MLP.logitScale }
            expectedProbabilities += e.probabilities
        }
        let logits = try RunFixtures.readFloats(logitsPath)
        #expect(logits.dtype == .float32 && logits.shape == [rows, 4])
        #expect(logits.values.map(\.bitPattern) == expectedLogits.map(\.bitPattern))
        let probabilities = try RunFixtures.readFloats(probabilitiesPath)
        #expect(probabilities.shape == [rows, 4])
        #expect(probabilities.values.map(\.bitPattern) == expectedProbabilities.map(\.bitPattern))
        // The logits must neither saturate nor vanish much, or the comparison proves little.
        let saturated = expectedLogits.filter { $0 == 127 * RunFixtures.MLP.logitScale || $0 == -128 * RunFixtures.MLP.logitScale }
        #expect(Set(expectedLogits).count > 12 && saturated.count * 8 < expectedLogits.count, "\(expectedLogits)")

        // The same samples as INT8 codes give the same bytes; so does the INT8-only profile.
        let codesPath = directory.file("codes.npy")
        try RunFixtures.writeNPY(try NPYArray(int8: codes, shape: [rows, 16]), codesPath)
        let again = directory.file("logits-int8.npy"), againP = directory.file("p-int8.npy")
        let fromCodes = try Executables.run("dlactl", ["run", model, "--input", codesPath, "--output", again, "--output", againP, "--profile", "nv_small"])
        #expect(fromCodes.status == 0, "\(fromCodes.stderr)")
        #expect(try Self.bytes(again) == Self.bytes(logitsPath))
        #expect(try Self.bytes(againP) == Self.bytes(probabilitiesPath))
    }

    @Test func convolutionSDPAndPoolingMatchIntegerArithmetic() throws {
        let directory = try TemporaryDirectory()
        let cnn = RunFixtures.CNN()
        let model = directory.file("cnn.dla")
        try RunFixtures.write(cnn.model, to: model)
        let rows = 4
        var random = RunFixtures.Random(state: 5)
        let images = random.int8s(rows * 36)
        let input = directory.file("images.npy")
        try RunFixtures.writeNPY(try NPYArray(int8: images, shape: [rows, 1, 6, 6]), input)
        var expected: [Float] = []
        for row in 0..<rows {
            let pooled: [Int8] = cnn.expected(image: Array(images[(row * 36)..<((row + 1) * 36)]))
            expected += pooled.map { Float($0) * Float(0.05) }
        }
        let saturated = expected.filter { $0 == 127 * Float(0.05) }
        #expect(Set(expected).count > 12 && saturated.count * 8 < expected.count, "\(expected)")
        for profile in ["nv_full", "nv_small", "xavier"] {
            let output = directory.file("pooled-\(profile).npy")
            let result = try Executables.run("dlactl", ["run", model, "--input", input, "--output", output, "--profile", profile])
            #expect(result.status == 0, "\(result.stderr)")
            let pooled = try RunFixtures.readFloats(output)
            #expect(pooled.shape == [rows, 2, 3, 3])
            #expect(pooled.values.map(\.bitPattern) == expected.map(\.bitPattern), "profile \(profile)")
        }
    }

    @Test func batchSizeAndThreadsChangeNoByte() throws {
        let directory = try TemporaryDirectory()
        let (model, input, _) = try Self.prepareMLP(directory, rows: 13)
        var reference: (Data, Data)?
        for (batch, threads) in [(nil, "1"), ("1", "1"), ("5", "2"), ("13", "2"), ("64", "1")] as [(String?, String)] {
            let logits = directory.file("l.npy"), probabilities = directory.file("p.npy")
            var arguments = ["run", model, "--input", input, "--output", logits, "--output", probabilities, "--threads", threads]
            if let batch { arguments += ["--batch-size", batch] }
            let result = try Executables.run("dlactl", arguments)
            #expect(result.status == 0, "\(result.stderr)")
            let produced = (try Self.bytes(logits), try Self.bytes(probabilities))
            if let reference {
                #expect(produced == reference, "batch \(batch ?? "default") threads \(threads)")
            } else {
                reference = produced
            }
        }
    }

    @Test func oneSampleWithoutTheBatchDimension() throws {
        let directory = try TemporaryDirectory()
        let mlp = RunFixtures.MLP()
        let (model, _, _) = try Self.prepareMLP(directory, rows: 1, mlp: mlp)
        let sample = Self.mlpInputs(rows: 1, seed: 21)
        let input = directory.file("one.npy")
        try RunFixtures.writeNPY(try NPYArray(float32: sample.floats, shape: [16]), input)
        let logits = directory.file("l.npy"), probabilities = directory.file("p.npy")
        let result = try Executables.run("dlactl", ["run", model, "--input", input, "--output", logits, "--output", probabilities])
        #expect(result.status == 0, "\(result.stderr)")
        let read = try RunFixtures.readFloats(logits)
        #expect(read.shape == [4])
        #expect(read.values == mlp.expected(codes: sample.codes).logits.map { Float($0) * RunFixtures.MLP.logitScale })
    }

    @Test func severalInputsInTheModelsOrder() throws {
        let directory = try TemporaryDirectory()
        let model = directory.file("add.dla")
        try RunFixtures.write(RunFixtures.ElementwiseAdd.model, to: model)
        let rows = 5
        var random = RunFixtures.Random(state: 17)
        let a = (0..<(rows * 4)).map { _ in Int8(random.int(in: -40...40)) }
        let bCodes = (0..<(rows * 4)).map { _ in Int8(random.int(in: -60...60)) }
        let aPath = directory.file("a.npy"), bPath = directory.file("b.npy")
        try RunFixtures.writeNPY(try NPYArray(int8: a, shape: [rows, 4]), aPath)
        // b as floats that quantize exactly to its codes.
        let bReal = bCodes.map { Float(Int($0) - RunFixtures.ElementwiseAdd.bZeroPoint) * RunFixtures.ElementwiseAdd.bScale }
        try RunFixtures.writeNPY(try NPYArray(float32: bReal, shape: [rows, 4]), bPath)
        let output = directory.file("sum.npy")
        let result = try Executables.run("dlactl", ["run", model, "--input", aPath, "--input", bPath, "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        let expected = zip(a, bCodes).map { Float(RunFixtures.ElementwiseAdd.expected(a: $0, b: $1)) * Float(0.25) }
        let sum = try RunFixtures.readFloats(output)
        #expect(sum.shape == [rows, 4] && sum.values == expected)
        #expect(Set(expected).count > 10 && !expected.contains(127 * 0.25) && !expected.contains(-128 * 0.25), "\(expected)")

        let short = directory.file("b-short.npy")
        try RunFixtures.writeNPY(try NPYArray(float32: Array(bReal.prefix(8)), shape: [2, 4]), short)
        let disagree = try Executables.run("dlactl", ["run", model, "--input", aPath, "--input", short, "--output", output])
        #expect(disagree.status == 1)
        #expect(disagree.stderr == "error: inputs disagree on the number of samples: \(aPath) has 5, \(short) has 2\n")
        let missing = try Executables.run("dlactl", ["run", model, "--input", aPath, "--output", output])
        #expect(missing.status == 1)
        #expect(missing.stderr == "error: the model has 2 inputs (a, b), got 1 --input\n")
        let refused = try Executables.run("dlactl", ["run", model, "--input", aPath, "--input", bPath, "--output", output, "--profile", "nv_small"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("'add'") && refused.stderr.contains("SDP_EW"), "\(refused.stderr)")
    }

    @Test func statsTableAndJSON() throws {
        let directory = try TemporaryDirectory()
        let rows = 6
        let (model, input, _) = try Self.prepareMLP(directory, rows: rows)
        let json = directory.file("stats.json")
        let result = try Executables.run("dlactl", ["run", model, "--input", input, "--output", directory.file("l.npy"), "--output", directory.file("p.npy"),
                                                   "--stats", "--stats-json", json, "--batch-size", "4"])
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        for label in ["hw cycles", "0-skip cycles", "MAC util", "DRAM B", "SRAM B", "energy µJ", "host µs",
                      "hardware cycles ", "zero-skipping cycles ", "MAC utilization ", "DRAM bytes ", "SRAM bytes ", "energy ",
                      "emulated latency ", "host time ", "samples                 6 in 2 batches of up to 4"] {
            #expect(text.contains(label), "missing '\(label)' in\n\(text)")
        }
        let lines = text.split(separator: "\n")
        for name in ["fc1", "sdp1", "fc2", "sdp2", "softmax"] {
            #expect(lines.contains { $0.split(separator: " ").contains(Substring(name)) }, "no row for \(name)")
        }
        #expect(lines.contains { $0.split(separator: " ").first == "total" || $0.trimmingCharacters(in: .whitespaces).hasPrefix("total") })

        let report = try #require(try JSONSerialization.jsonObject(with: Self.bytes(json)) as? [String: Any])
        for key in ["model", "profile", "clockHertz", "emulatedCores", "samples", "batchSize", "batches", "hostThreads", "isa", "total", "operations"] {
            #expect(report[key] != nil, "missing key \(key)")
        }
        #expect(report["samples"] as? Int == rows && report["batches"] as? Int == 2 && report["profile"] as? String == "nv_full")
        let total = try #require(report["total"] as? [String: Any])
        for key in ["macs", "effectiveMACs", "hardwareCycles", "zeroSkippingCycles", "macUtilization", "dramBytes", "cbufBytes", "accumulatorBytes",
                    "energyPicojoules", "zeroSkippingEnergyPicojoules", "emulatedLatencyMicros", "zeroSkippingLatencyMicros", "hostEngineMicros", "hostWallMicros"] {
            #expect(total[key] != nil, "missing total key \(key)")
        }
        #expect(total["macs"] as? Int == rows * (16 * 8 + 8 * 4))
        let operations = try #require(report["operations"] as? [[String: Any]])
        #expect(operations.map { $0["name"] as? String } == ["fc1", "sdp1", "fc2", "sdp2", "softmax"])
        #expect(operations.map { $0["unit"] as? String } == ["convolution", "sdp", "convolution", "sdp", "cpu"])
        let cycles = operations.compactMap { $0["hardwareCycles"] as? Int }
        #expect(cycles.count == 5 && cycles.reduce(0, +) == total["hardwareCycles"] as? Int)
        #expect(operations[4]["hardwareCycles"] as? Int == 0)
        let utilization = try #require(total["macUtilization"] as? Double)
        #expect(utilization > 0 && utilization <= 1)
        #expect((total["zeroSkippingCycles"] as? Int ?? .max) <= (total["hardwareCycles"] as? Int ?? 0))
        #expect((total["emulatedLatencyMicros"] as? Double ?? 0) > 0)
        // The table's total cycles are the JSON's.
        #expect(text.contains("hardware cycles         \(total["hardwareCycles"] as? Int ?? -1) "))
    }

    @Test func dumpLayersWritesEveryOperation() throws {
        let directory = try TemporaryDirectory()
        let mlp = RunFixtures.MLP()
        let rows = 3
        let (model, input, codes) = try Self.prepareMLP(directory, rows: rows, mlp: mlp)
        let dump = directory.file("layers/deeper")
        let result = try Executables.run("dlactl", ["run", model, "--input", input, "--dump-layers", dump, "--batch-size", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dump).sorted()
        #expect(files == ["00-fc1.npy", "01-sdp1.npy", "02-fc2.npy", "03-sdp2.npy", "04-softmax.npy"])
        let expected = (0..<rows).map { mlp.expected(codes: Array(codes[($0 * 16)..<(($0 + 1) * 16)])) }

        let accumulators = try NPY.read(path: dump + "/00-fc1.npy")
        #expect(accumulators.dtype == .int32 && accumulators.shape == [rows, 8])
        #expect(try accumulators.asInt64() == expected.flatMap(\.fc1).map(Int64.init))
        let hidden = try RunFixtures.readFloats(dump + "/01-sdp1.npy")
        #expect(hidden.dtype == .float32 && hidden.shape == [rows, 8])
        #expect(hidden.values == expected.flatMap(\.hidden).map { Float($0) * Float(0.1) })
        #expect(try RunFixtures.readFloats(dump + "/02-fc2.npy").shape == [rows, 4])
        #expect(try RunFixtures.readFloats(dump + "/03-sdp2.npy").values == expected.flatMap(\.logits).map { Float($0) * RunFixtures.MLP.logitScale })
        #expect(try RunFixtures.readFloats(dump + "/04-softmax.npy").values == expected.flatMap(\.probabilities))
    }

    @Test func perfJSONSchemaAndSummary() throws {
        let directory = try TemporaryDirectory()
        let (model, input, _) = try Self.prepareMLP(directory, rows: 5)
        let result = try Executables.run("dlactl", ["perf", model, "--input", input, "--batch-size", "3", "--iterations", "7", "--warmup", "2", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["batchSize"] as? Int == 3 && report["threads"] as? Int == 1 && report["iterations"] as? Int == 7)
        let latency = try #require(report["latencyMicros"] as? [String: Double])
        let p50 = try #require(latency["p50"]), p99 = try #require(latency["p99"]), mean = try #require(latency["mean"])
        #expect(p50 > 0 && p50 <= p99 && mean > 0)
        #expect(latency["min"].map { $0 <= p50 } == true && latency["max"].map { $0 >= p99 } == true)
        let rate = try #require(report["inferencesPerSecond"] as? Double)
        // Throughput is the reciprocal of the mean latency per inference.
        #expect(abs(rate * mean / 1e6 - 1) < 1e-6)
        #expect(report["isa"] is String && report["profile"] as? String == "nv_full")

        let summary = try Executables.run("dlactl", ["perf", model, "--input", input, "--iterations", "3", "--warmup", "0", "--threads", "2"])
        #expect(summary.status == 0, "\(summary.stderr)")
        #expect(summary.stdout.contains("p50") && summary.stdout.contains("p99") && summary.stdout.contains("inferences/s"))
        #expect(summary.stdout.contains("3 timed after 0 warmup, batch 1, 2 threads"))
    }

    @Test func profileRefusalNamesTheOperationAndCapability() throws {
        let directory = try TemporaryDirectory()
        var mlp = RunFixtures.MLP()
        mlp.activation = "sigmoid"
        let (model, input, _) = try Self.prepareMLP(directory, rows: 2, mlp: mlp)
        for command in ["run", "perf"] {
            var arguments = [command, model, "--input", input, "--profile", "nv_small"]
            if command == "run" { arguments += ["--output", directory.file("l.npy"), "--output", directory.file("p.npy")] }
            let result = try Executables.run("dlactl", arguments)
            #expect(result.status == 1)
            #expect(result.stderr.hasPrefix("error: ") && result.stderr.split(separator: "\n").count == 1)
            #expect(result.stderr.contains("'sdp1'") && result.stderr.contains("nv_small") && result.stderr.contains("SDP_LUT"), "\(result.stderr)")
        }
        let unknown = try Executables.run("dlactl", ["run", model, "--input", input, "--stats", "--profile", "nv_huge"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "error: unknown profile 'nv_huge' (known: nv_small, nv_large, nv_full, xavier)\n")
    }

    @Test func inputMistakesAreOneLineErrorsNamingExpectedAndFound() throws {
        let directory = try TemporaryDirectory()
        let (model, input, _) = try Self.prepareMLP(directory, rows: 2)
        let outputs = ["--output", directory.file("l.npy"), "--output", directory.file("p.npy")]
        func run(_ array: NPYArray?, _ extra: [String] = [], inputPath: String? = nil) throws -> Executables.Result {
            let path = inputPath ?? directory.file("bad.npy")
            if let array { try RunFixtures.writeNPY(array, path) }
            return try Executables.run("dlactl", ["run", model, "--input", path] + outputs + extra)
        }
        let cases: [(NPYArray?, [String], String?, String)] = [
            (try NPYArray(float64: [Double](repeating: 0, count: 48), shape: [3, 4, 4]), [], nil,
             "error: input \(directory.file("bad.npy")): expected float32, float64 or int8 [N, 16], got float64 [3, 4, 4]\n"),
            (try NPYArray(int32: [Int32](repeating: 0, count: 32), shape: [2, 16]), [], nil,
             "error: input \(directory.file("bad.npy")): expected float32, float64 or int8 [N, 16], got int32 [2, 16]\n"),
            (try NPYArray(float32: [Float](repeating: 0, count: 30), shape: [2, 15]), [], nil,
             "error: input \(directory.file("bad.npy")): expected float32, float64 or int8 [N, 16], got float32 [2, 15]\n"),
            (try NPYArray(float32: [], shape: [0, 16]), [], nil,
             "error: input \(directory.file("bad.npy")): no samples (shape [0, 16]); need at least one row\n"),
            (try NPYArray(float32: [Float](repeating: 0, count: 20) + [.nan] + [Float](repeating: 0, count: 11), shape: [2, 16]), [], nil,
             "error: input \(directory.file("bad.npy")): 1 NaN value, the first in row 1 at element 4; NaN has no quantized value, replace it before running\n"),
            (nil, [], directory.file("absent.npy"), "error: input '\(directory.file("absent.npy"))' does not exist\n"),
            (nil, ["--input", input], input, "error: the model has 1 input (x), got 2 --input\n"),
        ]
        for (array, extra, path, message) in cases {
            let result = try run(array, extra, inputPath: path)
            #expect(result.status == 1)
            #expect(result.stderr == message)
        }
        let oneOutput = try Executables.run("dlactl", ["run", model, "--input", input, "--output", directory.file("l.npy")])
        #expect(oneOutput.status == 1)
        #expect(oneOutput.stderr == "error: the model has 2 outputs (logits, probabilities), got 1 --output\n")
        let noDirectory = try Executables.run("dlactl", ["run", model, "--input", input, "--output", directory.file("nowhere/l.npy"), "--output", directory.file("p.npy")])
        #expect(noDirectory.status == 1)
        #expect(noDirectory.stderr == "error: output '\(directory.file("nowhere/l.npy"))': directory '\(directory.file("nowhere"))' does not exist\n")
    }

    @Test func usageMistakesKeepArgumentParsersExitCode() throws {
        let directory = try TemporaryDirectory()
        let (model, input, _) = try Self.prepareMLP(directory, rows: 2)
        let cases: [([String], String)] = [
            (["run", model, "--input", input, "--stats", "--batch-size", "0"], "--batch-size must be at least 1, got 0."),
            (["run", model, "--input", input, "--stats", "--threads", "0"], "--threads must be between 1 and 256, got 0."),
            (["run", model, "--input", input], "Missing --output"),
            (["run", model, "--stats"], "Missing expected argument '--input <x.npy> ...'"),
            (["perf", model, "--input", input, "--iterations", "0"], "--iterations must be at least 1, got 0."),
            (["perf", model, "--input", input, "--threads", "0"], "--threads must be between 1 and 256, got 0."),
            (["perf", model, "--input", input, "--batch-size", "0"], "--batch-size must be at least 1, got 0."),
        ]
        for (arguments, message) in cases {
            let result = try Executables.run("dlactl", arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        for command in ["run", "perf"] {
            let help = try Executables.run("dlactl", [command, "--help"])
            #expect(help.status == 0, "\(help.stderr)")
            #expect(help.stdout.contains("USAGE: dlactl \(command) <model> --input <x.npy> ..."), "\(help.stdout)")
        }
    }
}
