/// The planar data processor's register set for one pooling layer (`D_OPERATION_MODE_CFG`,
/// `D_POOLING_KERNEL_CFG`, `D_POOLING_PADDING_CFG`, `D_POOLING_PADDING_VALUE_*_CFG`).
public struct PDPParameters: Sendable, Hashable {
    public enum Method: String, Sendable, Hashable, CaseIterable {
        case average, maximum, minimum
    }

    public var method: Method
    /// 1...8 (`KERNEL_WIDTH/HEIGHT`, 3 bits + 1).
    public var kernelHeight: Int
    public var kernelWidth: Int
    /// 1...16 (`KERNEL_STRIDE_*`, 4 bits + 1).
    public var strideY: Int
    public var strideX: Int
    /// 0...7 each (3-bit fields).
    public var padTop: Int
    public var padBottom: Int
    public var padLeft: Int
    public var padRight: Int
    /// The value padded taps contribute to an average (the input's zero point). Max and min
    /// pooling ignore padded taps.
    public var paddingValue: Int32

    public init(method: Method, kernelHeight: Int, kernelWidth: Int, strideY: Int, strideX: Int,
                padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0, paddingValue: Int32 = 0) {
        self.method = method
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideY = strideY
        self.strideX = strideX
        self.padTop = padTop
        self.padBottom = padBottom
        self.padLeft = padLeft
        self.padRight = padRight
        self.paddingValue = paddingValue
    }

    /// Output height and width for an input of `height × width`.
    public func outputSize(height: Int, width: Int) throws(EngineError) -> (height: Int, width: Int) {
        try EngineError.require("PDP kernelHeight", kernelHeight, in: 1...8)
        try EngineError.require("PDP kernelWidth", kernelWidth, in: 1...8)
        try EngineError.require("PDP strideY", strideY, in: 1...16)
        try EngineError.require("PDP strideX", strideX, in: 1...16)
        for (name, pad) in [("padTop", padTop), ("padBottom", padBottom), ("padLeft", padLeft), ("padRight", padRight)] {
            try EngineError.require("PDP \(name)", pad, in: 0...7)
        }
        let paddedHeight = height + padTop + padBottom, paddedWidth = width + padLeft + padRight
        guard paddedHeight >= kernelHeight, paddedWidth >= kernelWidth else {
            throw .invalidParameter(name: "PDP kernel", expected: "at most the padded input \(paddedHeight)×\(paddedWidth)", found: "\(kernelHeight)×\(kernelWidth)")
        }
        return ((paddedHeight - kernelHeight) / strideY + 1, (paddedWidth - kernelWidth) / strideX + 1)
    }
}
