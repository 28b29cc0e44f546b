import CDLAKernels
import DLANumerics

/// SDP's most common programs in one pass over the data: bias (ALU add), per-channel multiplier
/// with truncation (batch-norm scale or requantization), optionally an element-wise INT8 operand
/// added after alignment (a residual connection), optional ReLU, then the output converter to
/// INT8. The general stage-by-stage `SDP.run` is its reference twin: both saturate to INT32 after
/// every stage and round half away from zero, and tests check they agree bit for bit.
struct FusedSDP: Sendable {
    /// Per-channel addends (zeros without an add stage; a constant is repeated per channel).
    let bias: [Int32]
    /// Per-channel multipliers (ones without a multiply stage).
    let multiplier: [Int32]
    let channels: Int
    /// Whether `run` expects an element-wise operand (aligned by `program`'s `ew_*` fields).
    let addsOperand: Bool
    /// Shift, element-wise alignment, ReLU and converter as the C kernel takes them.
    let program: dla_sdp_program

    /// The fused form of `parameters` for `channels` channels, or nil when its stages are not
    /// `[add]? [multiply]? [relu]?` with constant or per-channel operands of the right length.
    init?(_ parameters: SDPParameters, channels: Int) {
        self.init(stages: parameters.stages, operandAfter: nil, converter: parameters.converter,
                  outputType: parameters.outputType, channels: channels)
    }

    /// The fused form of a layer whose element-wise operand (if any) is an `add`: `before` must be
    /// `[add]? [multiply]?` and `after` `[relu]?`; nil for other layers and layers without a converter.
    init?(_ layer: SDPLayer, channels: Int) {
        guard let converter = layer.converter else { return nil }
        var aligner: OutputConverter?
        if let elementwise = layer.elementwise {
            guard elementwise.operation == .add else { return nil }
            aligner = elementwise.operandConverter
        }
        self.init(stages: layer.before + layer.after, operandAfter: aligner.map { (layer.before.count, $0) },
                  converter: converter, outputType: layer.outputType, channels: channels)
    }

    /// `operandAfter`: the number of leading stages after which the operand is added, and its aligner.
    private init?(stages all: [SDPStage], operandAfter: (stages: Int, aligner: OutputConverter)?,
                  converter: OutputConverter, outputType: IntegerQuantType, channels: Int) {
        guard channels >= 1 else { return nil }
        var stages = all[...]
        func perChannel(_ operand: SDPOperand) -> [Int32]? {
            switch operand {
            case .constant(let value): return [Int32](repeating: value, count: channels)
            case .perChannel(let values): return values.count == channels ? values : nil
            case .elementwise: return nil
            }
        }
        var bias = [Int32](repeating: 0, count: channels)
        if case .add(let operand)? = stages.first {
            guard let values = perChannel(operand) else { return nil }
            bias = values
            stages = stages.dropFirst()
        }
        var multiplier = [Int32](repeating: 1, count: channels)
        var shift = 0
        if case .multiply(let operand, let s)? = stages.first {
            guard let values = perChannel(operand), (0...63).contains(s) else { return nil }
            multiplier = values
            shift = s
            stages = stages.dropFirst()
        }
        // The kernel adds the operand right after the multiplier, so exactly the stages before it must precede it.
        if let operandAfter, operandAfter.stages != all.count - stages.count { return nil }
        var relu = false
        if case .relu? = stages.first {
            relu = true
            stages = stages.dropFirst()
        }
        guard stages.isEmpty else { return nil }
        let range = outputType.range
        let aligner = operandAfter?.aligner ?? .identity
        self.bias = bias
        self.multiplier = multiplier
        self.channels = channels
        self.addsOperand = operandAfter != nil
        self.program = dla_sdp_program(shift: Int32(shift), relu: relu ? 1 : 0, cvt_offset: converter.offset,
                                       cvt_scale: Int32(converter.scale), cvt_shift: Int32(min(converter.shift, OutputConverter.maxShift)),
                                       lo: range.lowerBound, hi: range.upperBound,
                                       ew_offset: aligner.offset, ew_scale: Int32(aligner.scale),
                                       ew_shift: Int32(min(aligner.shift, OutputConverter.maxShift)))
    }

    /// `input` holds rows of `channels × inner` values, channel-major within a row; `operand` (the
    /// caller checks it is given exactly when `addsOperand`) and `output` as many INT8 values.
    func run(_ input: UnsafeBufferPointer<Int32>, operand: UnsafeBufferPointer<Int8>? = nil, inner: Int,
             into output: UnsafeMutableBufferPointer<Int8>) {
        let rowLength = channels * inner
        guard rowLength > 0, let source = input.baseAddress, let target = output.baseAddress else { return }
        let operandBase = addsOperand ? operand?.baseAddress : nil
        bias.withUnsafeBufferPointer { b in
            multiplier.withUnsafeBufferPointer { m in
                withUnsafePointer(to: program) { program in
                    dla_sdp_s8(Int64(input.count / rowLength), Int64(channels), Int64(inner), source, b.baseAddress, m.baseAddress,
                               operandBase, program, target)
                }
            }
        }
    }

    /// Elements of one row below which its SDP stays on one thread.
    static let minimumElementsPerThread = 32_768

    /// Channels `range` of a single row (`inner` values per channel; `input`, `operand` and
    /// `output` point at the row's start): threads running disjoint ranges write disjoint outputs.
    func run(channels range: Range<Int>, _ input: UnsafePointer<Int32>, operand: UnsafePointer<Int8>?, inner: Int,
             into output: UnsafeMutablePointer<Int8>) {
        guard !range.isEmpty, inner > 0 else { return }
        let start = range.lowerBound * inner
        let operandBase = addsOperand ? operand.map { $0 + start } : nil
        bias.withUnsafeBufferPointer { b in
            multiplier.withUnsafeBufferPointer { m in
                withUnsafePointer(to: program) { program in
                    dla_sdp_s8(1, Int64(range.count), Int64(inner), input + start, b.baseAddress! + range.lowerBound,
                               m.baseAddress! + range.lowerBound, operandBase, program, output + start)
                }
            }
        }
    }
}
