/// The convolution core's register-level description of one direct convolution (CDMA/CSC
/// `D_DATAIN_SIZE`, `D_WEIGHT_SIZE`, `D_CONV_STRIDE`, `D_ZERO_PADDING`, `D_DILATION`), plus groups,
/// which NVDLA runs as one hardware layer per group.
///
/// Feature maps are `[channels, height, width]`; weights `[outputChannels, inputChannels / groups,
/// kernelHeight, kernelWidth]`. A fully connected layer is a 1×1 convolution of a 1×1 map.
public struct ConvolutionParameters: Sendable, Hashable {
    public var inputChannels: Int
    public var inputHeight: Int
    public var inputWidth: Int
    public var outputChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideY: Int
    public var strideX: Int
    public var padTop: Int
    public var padBottom: Int
    public var padLeft: Int
    public var padRight: Int
    public var dilationY: Int
    public var dilationX: Int
    public var groups: Int

    public init(
        inputChannels: Int, inputHeight: Int, inputWidth: Int, outputChannels: Int,
        kernelHeight: Int, kernelWidth: Int, strideY: Int = 1, strideX: Int = 1,
        padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0,
        dilationY: Int = 1, dilationX: Int = 1, groups: Int = 1
    ) {
        self.inputChannels = inputChannels
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.outputChannels = outputChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideY = strideY
        self.strideX = strideX
        self.padTop = padTop
        self.padBottom = padBottom
        self.padLeft = padLeft
        self.padRight = padRight
        self.dilationY = dilationY
        self.dilationX = dilationX
        self.groups = groups
    }

    /// A fully connected layer: `outputFeatures` dot products of length `inputFeatures`.
    public static func fullyConnected(inputFeatures: Int, outputFeatures: Int) -> ConvolutionParameters {
        ConvolutionParameters(inputChannels: inputFeatures, inputHeight: 1, inputWidth: 1,
                              outputChannels: outputFeatures, kernelHeight: 1, kernelWidth: 1)
    }

    /// Derived sizes, valid only for parameters that passed `validated()`.
    public struct Geometry: Sendable, Hashable {
        public let outputHeight: Int
        public let outputWidth: Int
        public let channelsPerGroup: Int
        public let outputChannelsPerGroup: Int
        /// Products summed per output element: (C / groups) × R × S.
        public let reductionLength: Int
        /// Multiply-accumulates of the whole layer.
        public let macs: Int
    }

    /// Register ranges follow NVDLA v1 (stride 1–8, pad 0–31, dilation 1–32), with sizes limited
    /// only by what fits in memory.
    public func validated() throws(EngineError) -> Geometry {
        try EngineError.require("inputChannels", inputChannels, in: 1...65536)
        try EngineError.require("inputHeight", inputHeight, in: 1...8192)
        try EngineError.require("inputWidth", inputWidth, in: 1...8192)
        try EngineError.require("outputChannels", outputChannels, in: 1...65536)
        try EngineError.require("kernelHeight", kernelHeight, in: 1...32)
        try EngineError.require("kernelWidth", kernelWidth, in: 1...32)
        try EngineError.require("strideY", strideY, in: 1...8)
        try EngineError.require("strideX", strideX, in: 1...8)
        for (name, pad) in [("padTop", padTop), ("padBottom", padBottom), ("padLeft", padLeft), ("padRight", padRight)] {
            try EngineError.require(name, pad, in: 0...31)
        }
        try EngineError.require("dilationY", dilationY, in: 1...32)
        try EngineError.require("dilationX", dilationX, in: 1...32)
        try EngineError.require("groups", groups, in: 1...inputChannels)
        guard inputChannels % groups == 0, outputChannels % groups == 0 else {
            throw .invalidParameter(name: "groups", expected: "a divisor of inputChannels \(inputChannels) and outputChannels \(outputChannels)", found: "\(groups)")
        }
        let extentY = dilationY * (kernelHeight - 1) + 1
        let extentX = dilationX * (kernelWidth - 1) + 1
        let paddedHeight = inputHeight + padTop + padBottom
        let paddedWidth = inputWidth + padLeft + padRight
        guard paddedHeight >= extentY, paddedWidth >= extentX else {
            throw .invalidParameter(name: "kernel extent", expected: "at most the padded input \(paddedHeight)×\(paddedWidth)", found: "\(extentY)×\(extentX)")
        }
        let outputHeight = (paddedHeight - extentY) / strideY + 1
        let outputWidth = (paddedWidth - extentX) / strideX + 1
        let channelsPerGroup = inputChannels / groups
        let reduction = channelsPerGroup * kernelHeight * kernelWidth
        let (pixels, o1) = outputHeight.multipliedReportingOverflow(by: outputWidth)
        let (perPixel, o2) = outputChannels.multipliedReportingOverflow(by: reduction)
        let (macs, o3) = pixels.multipliedReportingOverflow(by: perPixel)
        guard !o1, !o2, !o3 else {
            throw .invalidParameter(name: "layer size", expected: "a MAC count that fits Int", found: "\(self)")
        }
        return Geometry(outputHeight: outputHeight, outputWidth: outputWidth, channelsPerGroup: channelsPerGroup,
                        outputChannelsPerGroup: outputChannels / groups, reductionLength: reduction, macs: macs)
    }
}
