/// The code that means real zero at each element: the zero point of the element's channel
/// for INT8/UINT8, the all-zero bit pattern otherwise. Sparse storage omits these codes and
/// the execution form skips them.
struct ZeroCodes {
    /// One code per channel of the quantization axis (a single code when uniform).
    let channelCodes: [UInt32]
    /// Elements per index step of the quantization axis.
    let innerStride: Int

    /// `quantization` and `shape` must already be validated (zero points in range, axis valid).
    init(dataType: DLADataType, quantization: DLAQuantization, shape: [Int]) {
        func code(_ zeroPoint: Int32) -> UInt32 {
            switch dataType {
            case .int8: UInt32(UInt8(truncatingIfNeeded: zeroPoint))
            case .uint8: UInt32(UInt8(truncatingIfNeeded: zeroPoint))
            default: 0
            }
        }
        switch quantization {
        case .none:
            channelCodes = [0]
            innerStride = 1
        case .perTensor(_, let zeroPoint):
            channelCodes = [code(zeroPoint)]
            innerStride = 1
        case .perChannel(let axis, _, let zeroPoints):
            let codes = zeroPoints.map(code)
            if Set(codes).count <= 1 {
                channelCodes = [codes.first ?? 0]
                innerStride = 1
            } else {
                channelCodes = codes
                innerStride = max(1, shape.dropFirst(axis + 1).reduce(1, *))
            }
        }
    }

    var isUniform: Bool { channelCodes.count == 1 }

    @inline(__always)
    func code(at index: Int) -> UInt32 {
        isUniform ? channelCodes[0] : channelCodes[(index / innerStride) % channelCodes.count]
    }

    /// Initializes every element of `buffer` with its zero code.
    func fill<U: FixedWidthInteger>(_ buffer: UnsafeMutableBufferPointer<U>) {
        if isUniform {
            buffer.initialize(repeating: U(truncatingIfNeeded: channelCodes[0]))
            return
        }
        var index = 0
        var channel = 0
        while index < buffer.count {
            let runEnd = min(buffer.count, index + innerStride)
            let code = U(truncatingIfNeeded: channelCodes[channel])
            for element in index..<runEnd { buffer.initializeElement(at: element, to: code) }
            index = runEnd
            channel = channel + 1 == channelCodes.count ? 0 : channel + 1
        }
    }
}
