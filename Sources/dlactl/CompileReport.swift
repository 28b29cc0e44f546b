import DLACompiler
import DLAFormat

/// The text `dlactl compile` prints: per layer FP32 bytes, stored bytes, density, bits per
/// weight, encoding and unit (Deep Compression's Table 1 columns), totals, the ratio, and every
/// CPU fallback named.
enum CompileReport {
    static func lines(_ compilation: Compilation, seconds: Double) -> [String] {
        let summary = compilation.summary
        var lines: [String] = []
        let source = compilation.preQuantized ? "quantization from the model" : "quantized by dlactl"
        lines.append("\(summary.name): \(compilation.precision) (\(source)), profile \(summary.profile), compiled in \(Decimal2(seconds, digits: 1)) s")
        var table = TextTable(["layer", "unit", "weights", "FP32 B", "stored B", "density", "bits/w", "shared", "encoding"],
                              rightAligned: [3, 4, 5, 6, 7])
        for layer in compilation.layers {
            let shared: String
            if let values = layer.compression.sharedValues {
                shared = layer.compression.alreadyShared ? "\(values) (kept)" : "\(values)"
            } else {
                shared = "-"
            }
            table.append([layer.name, layer.unit, layer.weightShape.map(String.init).joined(separator: "×"), "\(layer.fp32Bytes)",
                          "\(layer.storedBytes)", "\(Decimal2(layer.density * 100, digits: 1)) %", "\(Decimal2(layer.bitsPerWeight))",
                          shared, layer.encoding])
        }
        lines += table.render()
        lines.append("total: \(summary.parameters) parameters, \(summary.fp32Bytes) B as FP32 → \(summary.parameterBytes) B stored "
                     + "(\(Decimal2(summary.compressionRatio, digits: 1))×), file \(summary.fileBytes) B, "
                     + "density \(Decimal2(Double(summary.nonzeroParameters) / Double(max(summary.parameters, 1)) * 100, digits: 1)) %")
        let units = compilation.unitCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("operations: \(units)")
        if compilation.cpuFallbacks.isEmpty {
            lines.append("CPU fallback: none (every operation runs on the accelerator)")
        } else {
            lines.append("CPU FALLBACK (NVDLA lacks these; they run on the host): " + compilation.cpuFallbacks.joined(separator: ", "))
        }
        return lines
    }
}
