import CDLAKernels
import DLANumerics

/// SDP's integer programs in one pass over the data, INT32 accumulators or INT8 codes in, INT8
/// out: BS (bias, per-channel multiplier with truncation, clip), BN (bias, multiplier), Y's ALU
/// adding either a per-channel bias or an element-wise INT8 operand after alignment (a residual
/// connection), an optional ReLU or clip, then the output converter. Each stage may be absent. The general stage-by-stage
/// `SDP.run` is its reference twin: both saturate to INT32 after every stage and round half away
/// from zero, and tests check they agree bit for bit on every instruction set.
///
/// BS's result clipped to an INT8 range, then BN, is how a compiled layer keeps ONNX Runtime's two
/// roundings (a quantized MatMul output, then the bias Add) in one pass.
struct FusedSDP: Sendable {
    /// BS: per-channel addends (zeros without an add stage; a constant is repeated per channel).
    let bias: [Int32]
    /// BS: per-channel multipliers (ones without a multiply stage).
    let multiplier: [Int32]
    /// BN's addends (empty without a BN add) and multipliers (empty without a BN stage).
    let bnBias: [Int32]
    let bnMultiplier: [Int32]
    /// Y's ALU with a per-channel operand (a bias in finer units after BN's multiplier); empty
    /// without one.
    let ewBias: [Int32]
    let channels: Int
    /// Whether `run` expects an element-wise operand (aligned by `program`'s `ew_*` fields).
    let addsOperand: Bool
    /// Shifts, clips, element-wise alignment and converter as the C kernel takes them.
    let program: dla_sdp_program

    /// The fused form of `parameters` for `channels` channels (no element-wise operand), or nil
    /// when its stages do not fit the pass's order.
    init?(_ parameters: SDPParameters, channels: Int) {
        self.init(before: parameters.stages, aligner: nil, after: [], converter: parameters.converter,
                  outputType: parameters.outputType, channels: channels)
    }

    /// The fused form of a layer, or nil when its stages do not fit the pass's order, its
    /// element-wise operation is not an add, or it has no converter (an INT32 result).
    init?(_ layer: SDPLayer, channels: Int) {
        guard let converter = layer.converter else { return nil }
        var aligner: OutputConverter?
        if let elementwise = layer.elementwise {
            guard elementwise.operation == .add else { return nil }
            aligner = elementwise.operandConverter
        }
        self.init(before: layer.before, aligner: aligner, after: layer.after, converter: converter,
                  outputType: layer.outputType, channels: channels)
    }

    /// The pass's stage slots in order. A stage list fits when its stages take increasing slots:
    /// an add the first free add slot, a multiply the first free multiply slot, a ReLU or clip the
    /// first free clip slot (ReLU is a clip at 0). With an operand, the stages before it take
    /// slots up to BN's multiplier and those after it only the activation (Y's ALU adds the
    /// operand, so it has no per-channel add then).
    private enum Slot: Int, Comparable {
        case bsAdd, bsMultiply, bsClip, bnAdd, bnMultiply, ewAdd, activation

        static func < (a: Slot, b: Slot) -> Bool { a.rawValue < b.rawValue }

        static func candidates(_ stage: SDPStage) -> [Slot] {
            switch stage {
            case .add: [.bsAdd, .bnAdd, .ewAdd]
            case .multiply: [.bsMultiply, .bnMultiply]
            case .relu, .clip: [.bsClip, .activation]
            case .maximum, .minimum, .prelu, .lookup: []
            }
        }
    }

    private init?(before: [SDPStage], aligner: OutputConverter?, after: [SDPStage], converter: OutputConverter,
                  outputType: IntegerQuantType, channels: Int) {
        guard channels >= 1 else { return nil }
        func perChannel(_ operand: SDPOperand) -> [Int32]? {
            switch operand {
            case .constant(let value): return [Int32](repeating: value, count: channels)
            case .perChannel(let values): return values.count == channels ? values : nil
            case .elementwise: return nil
            }
        }
        var adds: [Slot: [Int32]] = [:], multiplies: [Slot: (values: [Int32], shift: Int)] = [:]
        var clips: [Slot: (lower: Int32, upper: Int32)] = [:]
        var last: Slot?
        func place(_ stages: [SDPStage], within range: ClosedRange<Slot>) -> Bool {
            for stage in stages {
                guard let slot = Slot.candidates(stage).first(where: { slot in range.contains(slot) && (last.map { slot > $0 } ?? true) }) else {
                    return false
                }
                switch stage {
                case .add(let operand):
                    guard let values = perChannel(operand) else { return false }
                    adds[slot] = values
                case .multiply(let operand, let shift):
                    // INT32_MIN is refused so that every product of two INT32s stays below 2^62 in magnitude,
                    // where the kernel's rounding shift is exact.
                    guard let values = perChannel(operand), (0...63).contains(shift), !values.contains(Int32.min) else { return false }
                    multiplies[slot] = (values, shift)
                case .relu:
                    clips[slot] = (0, Int32.max)
                case .clip(let lower, let upper):
                    guard lower <= upper else { return false }
                    clips[slot] = (lower, upper)
                case .maximum, .minimum, .prelu, .lookup:
                    return false
                }
                last = slot
            }
            return true
        }
        if aligner != nil {
            guard place(before, within: .bsAdd ... .bnMultiply) else { return nil }
            guard place(after, within: .activation ... .activation) else { return nil }
        } else {
            guard place(before + after, within: .bsAdd ... .activation) else { return nil }
        }
        let ones = [Int32](repeating: 1, count: channels), zeros = [Int32](repeating: 0, count: channels)
        let hasBN = adds[.bnAdd] != nil || multiplies[.bnMultiply] != nil
        self.bias = adds[.bsAdd] ?? zeros
        self.multiplier = multiplies[.bsMultiply]?.values ?? ones
        self.bnBias = hasBN ? adds[.bnAdd] ?? [] : []
        self.bnMultiplier = hasBN ? multiplies[.bnMultiply]?.values ?? ones : []
        self.ewBias = adds[.ewAdd] ?? []
        self.channels = channels
        self.addsOperand = aligner != nil
        let range = outputType.range
        let align = aligner ?? .identity
        let bsClip = clips[.bsClip], activation = clips[.activation]
        self.program = dla_sdp_program(
            shift: Int32(multiplies[.bsMultiply]?.shift ?? 0),
            bs_clip: bsClip == nil ? 0 : 1, bs_lo: bsClip?.lower ?? 0, bs_hi: bsClip?.upper ?? 0,
            bn: hasBN ? 1 : 0, bn_shift: Int32(multiplies[.bnMultiply]?.shift ?? 0), ew_add: adds[.ewAdd] == nil ? 0 : 1,
            act_clip: activation == nil ? 0 : 1, act_lo: activation?.lower ?? 0, act_hi: activation?.upper ?? 0,
            cvt_offset: converter.offset, cvt_scale: Int32(converter.scale), cvt_shift: Int32(min(converter.shift, OutputConverter.maxShift)),
            lo: range.lowerBound, hi: range.upperBound,
            ew_offset: align.offset, ew_scale: Int32(align.scale), ew_shift: Int32(min(align.shift, OutputConverter.maxShift)))
    }

    /// `input` holds rows of `channels × inner` INT32 accumulators, channel-major within a row;
    /// `operand` (the caller checks it is given exactly when `addsOperand`) and `output` as many
    /// INT8 values.
    func run(_ input: UnsafeBufferPointer<Int32>, operand: UnsafeBufferPointer<Int8>? = nil, inner: Int,
             into output: UnsafeMutableBufferPointer<Int8>) {
        guard let source = input.baseAddress, let target = output.baseAddress, channels * inner > 0 else { return }
        launch(rows: input.count / (channels * inner), channels: 0..<channels, .accumulators(source), operand: operand?.baseAddress,
               inner: inner, into: target)
    }

    /// The same on INT8 input codes (an SDP reading an activation from memory).
    func run(_ input: UnsafeBufferPointer<Int8>, operand: UnsafeBufferPointer<Int8>? = nil, inner: Int,
             into output: UnsafeMutableBufferPointer<Int8>) {
        guard let source = input.baseAddress, let target = output.baseAddress, channels * inner > 0 else { return }
        launch(rows: input.count / (channels * inner), channels: 0..<channels, .codes(source), operand: operand?.baseAddress,
               inner: inner, into: target)
    }

    private func withOperands(_ body: (UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?,
                                       UnsafePointer<Int32>?, UnsafePointer<dla_sdp_program>) -> Void) {
        bias.withUnsafeBufferPointer { b in
            multiplier.withUnsafeBufferPointer { m in
                bnBias.withUnsafeBufferPointer { nb in
                    bnMultiplier.withUnsafeBufferPointer { nm in
                        ewBias.withUnsafeBufferPointer { e in
                            // An empty array's buffer may still have an address: the kernel reads no BN add only from NULL.
                            withUnsafePointer(to: program) { body(b.baseAddress, m.baseAddress, nb.isEmpty ? nil : nb.baseAddress, nm.baseAddress, e.baseAddress, $0) }
                        }
                    }
                }
            }
        }
    }

    /// Elements of one row below which its SDP stays on one thread.
    static let minimumElementsPerThread = 32_768

    /// One row's input, as `run(channels:…)` takes it: CACC's accumulators or INT8 codes.
    enum RowInput {
        case accumulators(UnsafePointer<Int32>)
        case codes(UnsafePointer<Int8>)
    }

    /// Channels `range` of a single row (`inner` values per channel; `input`, `operand` and
    /// `output` point at the row's start), so that one row's SDP splits over threads: threads
    /// running disjoint ranges write disjoint outputs.
    func run(channels range: Range<Int>, _ input: RowInput, operand: UnsafePointer<Int8>?, inner: Int,
             into output: UnsafeMutablePointer<Int8>) {
        launch(rows: 1, channels: range, input, operand: operand, inner: inner, into: output)
    }

    /// The kernel on `rows` rows of channels `range` (a slice only for one row): the per-channel
    /// operands offset to the range's first channel, the data to its first element.
    private func launch(rows: Int, channels range: Range<Int>, _ input: RowInput, operand: UnsafePointer<Int8>?, inner: Int,
                        into output: UnsafeMutablePointer<Int8>) {
        guard !range.isEmpty, inner > 0, rows > 0 else { return }
        let start = range.lowerBound * inner, first = range.lowerBound
        let operandBase = addsOperand ? operand.map { $0 + start } : nil
        withOperands { bias, multiplier, bnBias, bnMultiplier, ewBias, program in
            let (b, m, nb, nm, e) = (bias.map { $0 + first }, multiplier.map { $0 + first }, bnBias.map { $0 + first },
                                     bnMultiplier.map { $0 + first }, ewBias.map { $0 + first })
            switch input {
            case .accumulators(let source):
                dla_sdp_s32_s8(Int64(rows), Int64(range.count), Int64(inner), source + start, b, m, nb, nm, e, operandBase, program, output + start)
            case .codes(let source):
                dla_sdp_s8_s8(Int64(rows), Int64(range.count), Int64(inner), source + start, b, m, nb, nm, e, operandBase, program, output + start)
            }
        }
    }
}

extension FusedSDP {
    /// The one decision how an integer SDP runs, made once per executor (`SDPOperation.planned`)
    /// and followed by the general path and the arena alike: a fused pass when the layer has a
    /// converter, its input is INT32 or INT8, its element-wise operand (if any) an INT8 tensor of
    /// the input's shape, and its stages fit the pass; nil runs it stage by stage (`SDP.run`).
    static func plan(_ layer: SDPLayer, _ operation: EngineOperation, in model: CompiledModel) -> FusedSDP? {
        guard layer.converter != nil, operation.inputs.count == (layer.elementwise == nil ? 1 : 2),
              operation.inputs.allSatisfy({ model.tensors.indices.contains($0) }) else { return nil }
        let input = model.tensors[operation.inputs[0]]
        guard input.elementType == .int32 || input.elementType == .int8, let channels = input.sampleShape.first else { return nil }
        if operation.inputs.count == 2 {
            let operand = model.tensors[operation.inputs[1]]
            guard operand.elementType == .int8, operand.sampleShape == input.sampleShape else { return nil }
        }
        return FusedSDP(layer, channels: channels)
    }
}
