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
        if d.sourcePrecision == .fp16 || d.destinationPrecision == .fp16 {
            return try runFloatSDP(d, index: index, name: name, memory: &memory)
        }
        let fused = d.source.memoryType == .hardware
        let x = try input(d.source, precision: d.sourcePrecision, memory: memory, name: name)
        var stages: [SDPStage] = []
        var summary: [String] = []
        for (label, stage, data) in [("X1", d.x1, d.x1Data), ("X2", d.x2, d.x2Data)] where stage.enabled {
            try appendBatchNormStages(stage, data: data, label: label, channels: x.shape[0], memory: memory, name: name,
                                      to: &stages, summary: &summary)
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
        let cost = try engine(name) { () throws(EngineError) in try model.sdp(parameters, elements: x.count, channels: x.shape[0], fused: fused, inputElementBytes: d.sourcePrecision.bytes) }
        record(index, text, cost)
    }

    /// One X stage in the order the BS/BN pipes apply it: ALU (operand shifted left by
    /// `shift_value`), multiplier with `truncate` (or PReLU on negatives), ReLU. Register operands
    /// are the 16-bit `BS/BN_ALU_SRC_VALUE` and `BS/BN_MUL_SRC_VALUE` fields (nvdla/hw
    /// `arnvdla.h`): the descriptor's 32-bit operands keep their low 16 bits, as the firmware's
    /// register write does.
    private func appendBatchNormStages(_ s: FirmwareSDPStage, data: FirmwareDataCube, label: String, channels: Int, memory: NVDLAMemory,
                                       name: String, to stages: inout [SDPStage], summary: inout [String]) throws(NVDLARuntimeError) {
        let usesALU = s.kind == .add || s.kind == .both
        let usesMultiplier = s.kind == .multiply || s.kind == .both
        let perChannel = try perKernelOperands(s, data: data, label: label, channels: channels, memory: memory, name: name)
        func shifted(_ value: Int64) -> Int32 {
            let shift = Int64(s.shiftValue & 63)
            return Int32(clamping: shift >= 47 ? (value == 0 ? 0 : value > 0 ? Int64.max : Int64.min) : value << shift)
        }
        if usesALU {
            let operand: SDPOperand = perChannel.map { .perChannel($0.map { shifted(Int64($0)) }) }
                ?? .constant(shifted(Int64(Int16(truncatingIfNeeded: s.aluOperand))))
            switch s.alu {
            case .sum: stages.append(.add(operand))
            case .maximum: stages.append(.maximum(operand))
            case .minimum: stages.append(.minimum(operand))
            case .equal: throw .unsupported(what: "\(name): SDP \(label) ALU EQL")
            }
            summary.append("\(label).alu(\(s.alu))")
        }
        if usesMultiplier {
            let operand: SDPOperand = perChannel.map { .perChannel($0) } ?? .constant(Int32(Int16(truncatingIfNeeded: s.mulOperand)))
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

    /// Per-channel operands an X stage reads from memory (`SDP_OP_PER_KERNEL`: a 1×1×C cube of the
    /// stage's precision), nil for a register operand. Per-element operands and both operands from
    /// memory at once are not modelled.
    func perKernelOperands(_ s: FirmwareSDPStage, data: FirmwareDataCube, label: String, channels: Int, memory: NVDLAMemory,
                           name: String) throws(NVDLARuntimeError) -> [Int32]? {
        guard s.kind != .none, s.mode != .perLayer else { return nil }
        guard s.mode == .perKernel, s.kind != .both else {
            throw .unsupported(what: "\(name): SDP \(label) \(s.kind) operands read from memory \(s.mode)")
        }
        guard data.channel == channels, data.width == 1, data.height == 1 else {
            throw .invalid(what: "\(name) \(label) operands", detail: "a per-kernel operand cube is 1×1×\(channels), found \(data.width)×\(data.height)×\(data.channel)")
        }
        let cube = try NVDLAFeatureCube(data, precision: s.precision, memory: memory, profile: profile, what: "\(name) \(label) operands")
        return cube.gatherIntegers(memory)
    }

    /// FP16 SDP: an X1 stage of bias (register or per kernel), scale and ReLU, through the engine's
    /// FP32 SDP pipeline (`FloatSDPLayer`), rounded to FP16. The output converter must be the
    /// identity; X2 and Y are not modelled in FP16.
    mutating func runFloatSDP(_ d: FirmwareSDP, index: Int, name: String, memory: inout NVDLAMemory) throws(NVDLARuntimeError) {
        guard d.sourcePrecision == .fp16, d.destinationPrecision == .fp16, !d.x2.enabled, !d.y.enabled else {
            throw .unsupported(what: "\(name): SDP \(d.sourcePrecision)→\(d.destinationPrecision) with X2 \(d.x2.enabled), Y \(d.y.enabled) (FP16 X1 is modelled)")
        }
        guard d.outputConverter.scale == 1, d.outputConverter.truncate == 0, d.outputConverter.offset == 0 else {
            throw .unsupported(what: "\(name): FP16 SDP output converter scale \(d.outputConverter.scale) shift \(d.outputConverter.truncate) offset \(d.outputConverter.offset)")
        }
        let fused = d.source.memoryType == .hardware
        let x = try floatInput(d.source, memory: memory, name: name)
        let channels = x.shape[0]
        var bias: [Float]?, scale: [Float]?
        var activation = FloatSDPLayer.Activation.none
        var relu = false
        if d.x1.enabled {
            let s = d.x1
            guard s.precision == .fp16, s.activation == .none || s.activation == .relu, s.shiftValue == 0, s.truncate == 0 else {
                throw .unsupported(what: "\(name): FP16 SDP X1 with \(s.activation) activation, operand precision \(s.precision), shifts \(s.shiftValue)/\(s.truncate)")
            }
            let fromMemory = try perKernelOperands(s, data: d.x1Data, label: "X1", channels: channels, memory: memory, name: name)
            func values(_ register: Int32) -> [Float] {
                (fromMemory ?? [Int32](repeating: register, count: channels)).map { FP16.decode(UInt16(truncatingIfNeeded: $0)) }
            }
            if s.kind == .add { bias = values(s.aluOperand) }
            if s.kind == .multiply { scale = values(s.mulOperand) }
            guard s.kind != .both, s.kind == .none || s.alu == .sum else {
                throw .unsupported(what: "\(name): FP16 SDP X1 \(s.kind) with ALU \(s.alu)")
            }
            if s.activation == .relu {
                activation = .relu
                relu = true
            }
        }
        let layer = FloatSDPLayer(bias: bias, scale: scale, activation: activation, outputType: .float16)
        let out = try engine(name) { () throws(EngineError) in try layer.run(x) }
        try floatOutput(out, to: d.destination, memory: &memory, name: name)
        let cost = try engine(name) { () throws(EngineError) in
            try model.sdp(try layer.costParameters(elements: x.count), elements: x.count, channels: channels, fused: fused,
                          inputElementBytes: d.sourcePrecision.bytes)
        }
        record(index, "SDP FP16" + (bias == nil ? "" : " bias") + (scale == nil ? "" : " scale") + (relu ? " relu" : ""), cost)
    }

    /// PDP pooling on DLAEngine's `PDP` (INT8). `split_num` partitions the width for the
    /// hardware's line buffer only; the result is that of one pass.
    mutating func runPDP(_ d: FirmwarePDP, index: Int, name: String, memory: inout NVDLAMemory) throws(NVDLARuntimeError) {
        try require(.pdp, "PDP", "pooling (PDP)", name)
        guard d.precision != .int16 else { throw .unsupported(what: "\(name): INT16 pooling") }
        guard (1...8).contains(d.strideX), (1...8).contains(d.strideY) else {
            throw .invalid(what: name, detail: "stride \(d.strideX)×\(d.strideY) outside kmd pdp.c's 1...8")
        }
        let method: PDPParameters.Method = switch d.mode {
        case .average: .average
        case .maximum: .maximum
        case .minimum: .minimum
        }
        let p = PDPParameters(method: method, kernelHeight: d.kernelHeight, kernelWidth: d.kernelWidth, strideY: d.strideY, strideX: d.strideX,
                              padTop: d.padTop, padBottom: d.padBottom, padLeft: d.padLeft, padRight: d.padRight,
                              paddingValue: d.paddingValues[0])
        let shape: [Int]
        if d.precision == .fp16 {
            guard d.mode != .average || d.paddingValues.allSatisfy({ $0 == 0 }) else {
                throw .invalid(what: name, detail: "FP16 pooling with padding values (kmd pdp.c requires 0)")
            }
            let x = try floatInput(d.source, memory: memory, name: name)
            shape = x.shape
            let pooled = try engine(name) { () throws(EngineError) in try PDP.runFloat(x, p, profile: profile) }
            try floatOutput(pooled, to: d.destination, memory: &memory, name: name)
        } else {
            let x = try input(d.source, precision: d.precision, memory: memory, name: name)
            shape = x.shape
            let pooled = try engine(name) { () throws(EngineError) in
                let planes = try Tensor(shape: x.shape, scalars: x.scalars.map { Int8(truncatingIfNeeded: $0) })
                return try PDP.run(planes, p, profile: profile)
            }
            let out = try engine(name) { () throws(EngineError) in try Tensor(shape: pooled.shape, scalars: pooled.scalars.map { Int32($0) }) }
            try output(out, to: d.destination, precision: d.precision, memory: &memory, name: name)
        }
        let cost = try engine(name) { () throws(EngineError) in try model.pdp(p, channels: shape[0], height: shape[1], width: shape[2]) }
        record(index, "PDP \(d.precision) \(method.rawValue) \(d.kernelWidth)×\(d.kernelHeight)/\(d.strideX)×\(d.strideY)", cost)
    }
}
