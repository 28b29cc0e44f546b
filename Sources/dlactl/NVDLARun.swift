import ArgumentParser
import DLAEngine
import DLAFormat
import DLANumerics
import NVDLALoadable
import NVDLARuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `dlactl nvdla-run`: runs an NVIDIA NVDLA loadable on the emulated memory and writes its output
/// as NVIDIA's runtime dumps it (`.dimg`) or as a planar `.npy`.
struct NVDLARun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nvdla-run",
        abstract: "Run an NVIDIA NVDLA loadable (flatbuffers) on the emulated DLA's memory.",
        discussion: """
            Each DLA task's firmware descriptors run on an emulated flat memory in NVDLA's layouts, \
            on the same unit arithmetic as `dlactl run`. Without --input the loadable runs on what \
            its memories hold (NVIDIA's unit tests embed their inputs); a .pgm (8-bit grayscale, \
            NVIDIA's digits) is converted as NVIDIA's runtime test does (FP16 pixel value, or INT8 \
            p·127/255 rounded); a .npy holds the input tensor's planar [C, H, W] elements (int8, \
            int32 for INT16 tensors, float32 for FP16 ones). A .dimg output is written as NVIDIA's \
            runtime test writes it (its 2017-2018 format numbering, that of the regression goldens); \
            a .npy output holds the planar elements (int8, int32 for INT16, float16). The profile \
            defaults to the one the file name says by NVIDIA's regression convention (…_small: \
            nv_small, …_large: nv_large, otherwise nv_full). Tasks for NVIDIA's CPU emulator \
            (power, softmax) run between DLA tasks. What is modelled and what matches NVIDIA's \
            goldens: docs/EMULATOR.md, "Checked against NVIDIA's regression".
            """
    )

    @Argument(help: ArgumentHelp("The NVDLA loadable.", valueName: "loadable"))
    var loadable: String

    @Option(name: .customLong("input"), help: ArgumentHelp("Input 0 as a grayscale .pgm or a .npy.", valueName: "x.pgm|x.npy"))
    var input: String?

    @Option(name: .customLong("output"), help: ArgumentHelp("Where to write output 0.", valueName: "y.dimg|y.npy"))
    var output: String

    @Option(name: .customLong("profile"), help: ArgumentHelp("nv_small, nv_large or nv_full (default: from the file name).", valueName: "profile"))
    var profile: String?

    @Flag(name: .customLong("stats"), help: "Print each hardware operation's emulated cycles, DRAM bytes and energy.")
    var stats = false

    func validate() throws {
        guard output.hasSuffix(".dimg") || output.hasSuffix(".npy") else {
            throw ValidationError("--output must end in .dimg or .npy")
        }
        if let input, !input.hasSuffix(".pgm"), !input.hasSuffix(".npy") {
            throw ValidationError("--input must end in .pgm or .npy")
        }
    }

    func run() throws {
        let file = try NVDLALoadableFile(bytes: try readFileBytes(loadable, what: "loadable"))
        let hardware = try HardwareProfile.named(profile ?? Self.profileName(forFile: loadable))
        var runner = NVDLALoadableRunner(file)
        if let input {
            guard let bound = file.inputs.first else { throw CLIError("loadable '\(loadable)' binds no input; run it without --input") }
            let tensor = try NVDLABoundTensor(bound.tensor, profile: hardware)
            let values: [Int32]
            if input.hasSuffix(".pgm") {
                let image = try PGMImage(bytes: try readFileBytes(input, what: "input"))
                values = try tensor.values(ofPixels: image.pixels, width: image.width, height: image.height)
            } else {
                values = try Self.values(ofNPY: try NPY.read(try readFileBytes(input, what: "input")), for: tensor, path: input)
            }
            try runner.bindInput(0, bytes: try tensor.bytes(of: values))
        }
        let reports = try runner.run(profile: hardware)
        guard let bound = file.outputs.first else { throw CLIError("loadable '\(loadable)' binds no output") }
        let bytes = try runner.outputBytes(0)
        let written: [UInt8]
        if output.hasSuffix(".dimg") {
            let metadata = try NVDLAImage.Metadata(outputTensor: bound.tensor, numbering: .original)
            written = try NVDLAImage(metadata: metadata, surface: bytes, numbering: .original).serialized()
        } else {
            let tensor = try NVDLABoundTensor(bound.tensor, profile: hardware)
            let elements = tensor.elements(of: bytes)
            let array: NPYArray = switch tensor.element {
            case .int8: try NPYArray(int8: elements.map { Int8(truncatingIfNeeded: $0) }, shape: tensor.shape)
            case .int16: try NPYArray(int32: elements, shape: tensor.shape)
            case .float16: try NPYArray(float16Bits: elements.map { UInt16(truncatingIfNeeded: $0) }, shape: tensor.shape)
            }
            written = NPY.write(array)
        }
        guard FileManager.default.createFile(atPath: output, contents: Data(written)) else {
            throw CLIError("cannot write output '\(output)'")
        }
        if stats { print(Self.table(reports, profile: hardware)) }
    }

    /// NVIDIA's regression names: `…_small` runs on nv_small, `…_large` on nv_large, else nv_full.
    static func profileName(forFile path: String) -> String {
        var name = String(path.split(separator: "/").last ?? "")
        for suffix in ["_fbuf", ".nvdla", ".fbuf"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        return name.hasSuffix("_small") ? "nv_small" : name.hasSuffix("_large") ? "nv_large" : "nv_full"
    }

    static func values(ofNPY array: NPYArray, for tensor: NVDLABoundTensor, path: String) throws -> [Int32] {
        guard array.shape == tensor.shape || array.shape == [1] + tensor.shape else {
            throw CLIError("input \(path): expected shape \(tensor.shape) for tensor '\(tensor.name)', got \(array.shape)")
        }
        switch (tensor.element, array.dtype) {
        case (.int8, .int8): return array.data.map { Int32(Int8(bitPattern: $0)) }
        case (.int16, .int32):
            let values = try array.asInt64()
            guard let bad = values.first(where: { $0 < Int64(Int16.min) || $0 > Int64(Int16.max) }) else { return values.map { Int32($0) } }
            throw CLIError("input \(path): \(bad) does not fit tensor '\(tensor.name)' (INT16)")
        case (.float16, .float32): return array.asFloat32().map { Int32(FP16.encode($0)) }
        default:
            let wanted = tensor.element == .int8 ? "int8" : tensor.element == .int16 ? "int32" : "float32"
            throw CLIError("input \(path): tensor '\(tensor.name)' takes \(wanted) values, got \(array.dtype.rawValue)")
        }
    }

    static func table(_ reports: [NVDLARunReport], profile: HardwareProfile) -> String {
        var table = TextTable(["task", "op", "unit", "what", "hw cycles", "MAC util", "DRAM B", "SRAM B", "energy µJ"], rightAligned: [0, 1, 4, 5, 6, 7, 8])
        for (task, report) in reports.enumerated() {
            for op in report.operations {
                let c = op.cost
                table.append(["\(task)", "\(op.index)", "\(op.type)", op.summary, "\(c.hardwareCycles)",
                              c.macs > 0 ? InspectReport.percent(c.macUtilization) : "-", "\(c.dramBytes)",
                              "\(c.cbufBytes + c.accumulatorBytes)", InspectReport.fixed(c.energyPicojoules / 1e6, 4)])
            }
        }
        let total = OperationCost.total(reports.map(\.total))
        table.append(["", "", "total", "", "\(total.hardwareCycles)", total.macs > 0 ? InspectReport.percent(total.macUtilization) : "-",
                      "\(total.dramBytes)", "\(total.cbufBytes + total.accumulatorBytes)", InspectReport.fixed(total.energyPicojoules / 1e6, 4)])
        var lines = table.render()
        lines.append("")
        lines.append("profile                 \(profile.name) at \(InspectReport.fixed(profile.clockHertz / 1e6, 1)) MHz")
        lines.append("emulated latency        \(durationText(seconds: Double(total.hardwareCycles) / profile.clockHertz)) (operations one after another)")
        return lines.joined(separator: "\n")
    }
}
