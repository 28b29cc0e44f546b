extension FloatSDPLayer {
    /// A layer of bias, scale and activation rounded to `outputType`, for callers outside the
    /// engine (the memory-level NVDLA runtime runs FP16 SDP descriptors through it).
    public init(bias: [Float]?, scale: [Float]?, activation: Activation, outputType: ActivationSpec.ElementType) {
        self.init(bias: bias, scale: scale, elementwise: nil, activation: activation, outputScale: 1,
                  outputType: outputType, saturates: true)
    }

    /// The FP32 SDP pipeline (`SDP.runFloat`, the one the `.dla` path runs) on one
    /// `[C, H, W]` map.
    public func run(_ input: Tensor<Float>) throws(EngineError) -> Tensor<Float> {
        let batched = try input.reshaped([1] + input.shape)
        return try SDP.runFloat(self, batched, operand: nil).reshaped(input.shape)
    }

    /// The integer stage list the cost model prices this layer as.
    public func costParameters(elements: Int) throws(EngineError) -> SDPParameters {
        try costEquivalent(elements: elements)
    }
}
