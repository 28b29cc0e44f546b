import DLAEngine
import DLANumerics
import NVDLALoadable

extension NVDLAUnitContext {
    /// SDP: X1 (BS) and X2 (BN) stages (ALU, multiplier, PReLU, ReLU), the Y (EW) stage, then the
    /// output converter (`CVT_OFFSET/SCALE/SHIFT`), as `kmd/firmware/sdp.c` programs them, on
    /// DLAEngine's `SDP`.
    mutating func runSDP(_ d: FirmwareSDP, index: Int, name: String, memory: inout NVDLAMemory) throws(NVDLARuntimeError) {
        guard !d.winograd else { throw .unsupported(what: "\(name): SDP after a Winograd convolution") }
        guard d.batch <= 1 else { throw .unsupported(what: "\(name): SDP batch of \(d.batch)") }
        guard d.sourcePrecision != .fp16, d.destinationPrecision != .fp16 else {
            throw .unsupported(what: "\(name): FP16 SDP")
        }
        let fused = d.source.memoryType == .hardware
        let x = try input(d.source, precision: d.sourcePrecision, memory: memory, name: name)
        var stages: [SDPStage] = []
        var summary: [String] = []
        for (label, stage, data) in [("X1", d.x1, d.x1Data), ("X2", d.x2, d.x2Data)] where stage.enabled {
            try appendBatchNormStages(stage, data: data, label: label, channels: x.shape[0], name: name, to: &stages, summary: &summary)
        }
        if d.y.enabled {
            throw .unsupported(what: "\(name): SDP Y (element-wise) stage")
        }
        let converter = OutputConverter(offset: d.outputConverter.offset, scale: d.outputConverter.scale, shift: d.outputConverter.truncate)
        let range = NVDLAFeatureCube.range(d.destinationPrecision)
        let values = try engine(name) { () throws(EngineError) in try SDP.runStages(x, stages, profile: profile) }
        let converted = values.map { converter.convert(Int64($0), to: range) }
        let result = try engine(name) { () throws(EngineError) in try Tensor(shape: x.shape, scalars: converted) }
        try output(result, to: d.destination, precision: d.destinationPrecision, memory: &memory, name: name)
        let parameters = SDPParameters(stages: stages, converter: converter)
        let text = "SDP \(d.sourcePrecision)→\(d.destinationPrecision)" + (summary.isEmpty ? "" : " " + summary.joined(separator: " "))
        let cost = try engine(name) { () throws(EngineError) in try model.sdp(parameters, elements: x.count, channels: x.shape[0], fused: fused) }
        record(index, text, cost)
    }

    /// One X stage in the order the BS/BN pipes apply it: ALU (operand shifted left by
    /// `shift_value`), multiplier with `truncate` (or PReLU on negatives), ReLU. Register operands
    /// are the 16-bit `BS/BN_ALU_SRC_VALUE` and `BS/BN_MUL_SRC_VALUE` fields (nvdla/hw
    /// `arnvdla.h`): the descriptor's 32-bit operands keep their low 16 bits, as the firmware's
    /// register write does.
    private func appendBatchNormStages(_ s: FirmwareSDPStage, data: FirmwareDataCube, label: String, channels: Int, name: String,
                                       to stages: inout [SDPStage], summary: inout [String]) throws(NVDLARuntimeError) {
        let usesALU = s.kind == .add || s.kind == .both
        let usesMultiplier = s.kind == .multiply || s.kind == .both
        if usesALU || usesMultiplier {
            guard s.mode == .perLayer else {
                throw .unsupported(what: "\(name): SDP \(label) operands read from memory (\(s.mode))")
            }
        }
        if usesALU {
            let register = Int64(Int16(truncatingIfNeeded: s.aluOperand))
            let shift = Int64(s.shiftValue & 63)
            let shifted = shift >= 47 ? (register == 0 ? 0 : register > 0 ? Int64.max : Int64.min) : register << shift
            let operand = SDPOperand.constant(Int32(clamping: shifted))
            switch s.alu {
            case .sum: stages.append(.add(operand))
            case .maximum: stages.append(.maximum(operand))
            case .minimum: stages.append(.minimum(operand))
            case .equal: throw .unsupported(what: "\(name): SDP \(label) ALU EQL")
            }
            summary.append("\(label).alu(\(s.alu))")
        }
        if usesMultiplier {
            let operand = SDPOperand.constant(Int32(Int16(truncatingIfNeeded: s.mulOperand)))
            stages.append(s.activation == .prelu ? .prelu(slope: operand, shift: Int(s.truncate)) : .multiply(operand, shift: Int(s.truncate)))
            summary.append(s.activation == .prelu ? "\(label).prelu" : "\(label).mul")
        }
        switch s.activation {
        case .relu:
            stages.append(.relu)
            summary.append("\(label).relu")
        case .lut:
            throw .invalid(what: "\(name): SDP \(label)", detail: "LUT activation exists only in the Y stage")
        case .none, .prelu:
            break
        }
    }

    /// PDP pooling on DLAEngine's `PDP` (INT8). `split_num` partitions the width for the
    /// hardware's line buffer only; the result is that of one pass.
    mutating func runPDP(_ d: FirmwarePDP, index: Int, name: String, memory: inout NVDLAMemory) throws(NVDLARuntimeError) {
        try require(.pdp, "PDP", "pooling (PDP)", name)
        guard d.precision == .int8 else { throw .unsupported(what: "\(name): \(d.precision) pooling") }
        guard (1...8).contains(d.strideX), (1...8).contains(d.strideY) else {
            throw .invalid(what: name, detail: "stride \(d.strideX)×\(d.strideY) outside kmd pdp.c's 1...8")
        }
        let x = try input(d.source, precision: d.precision, memory: memory, name: name)
        let method: PDPParameters.Method = switch d.mode {
        case .average: .average
        case .maximum: .maximum
        case .minimum: .minimum
        }
        let p = PDPParameters(method: method, kernelHeight: d.kernelHeight, kernelWidth: d.kernelWidth, strideY: d.strideY, strideX: d.strideX,
                              padTop: d.padTop, padBottom: d.padBottom, padLeft: d.padLeft, padRight: d.padRight,
                              paddingValue: d.paddingValues[0])
        let pooled = try engine(name) { () throws(EngineError) in
            let planes = try Tensor(shape: x.shape, scalars: x.scalars.map { Int8(truncatingIfNeeded: $0) })
            return try PDP.run(planes, p, profile: profile)
        }
        let out = try engine(name) { () throws(EngineError) in try Tensor(shape: pooled.shape, scalars: pooled.scalars.map { Int32($0) }) }
        try output(out, to: d.destination, precision: d.precision, memory: &memory, name: name)
        let cost = try engine(name) { () throws(EngineError) in try model.pdp(p, channels: x.shape[0], height: x.shape[1], width: x.shape[2]) }
        record(index, "PDP \(d.precision) \(method.rawValue) \(d.kernelWidth)×\(d.kernelHeight)/\(d.strideX)×\(d.strideY)", cost)
    }
}
