import DLANumerics

/// `cdp` / `lrn`: local response normalization on CDP through its LUT, image by image.
struct LocalResponseNormalizationOperation: EngineOperator {
    let parameters: CDPParameters

    /// Builds the LUT and output converter from the tensors' scales (both zero points 0).
    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let r = d.attributes
        let input = try d.input(0, "input")
        let out = try d.output()
        guard let inQ = input.quantization, let outQ = out.quantization, inQ.zeroPoint == 0, outQ.zeroPoint == 0,
              input.elementType == .int8, input.sampleShape.count == 3 else {
            throw .invalidParameter(name: "operation '\(d.name)' tensors", expected: "int8 [C, H, W] in and out with zero point 0", found: "\(input.name), \(out.name)")
        }
        try d.expectOutput(out, shape: input.sampleShape, type: .int8)
        let size = try r.int("size", default: 5)
        let fractionBits = 14
        let table = try LookupTable.localResponseNormalization(
            alpha: Double(try r.float("alpha", default: 1e-4)), beta: Double(try r.float("beta", default: 0.75)),
            k: Double(try r.float("k", default: 1)), localSize: size, inputScale: Double(inQ.scale),
            outputFractionBits: fractionBits, loRangeLog2: 17)
        guard let multiplier = FixedPointScale.approximating(Double(inQ.scale) / Double(outQ.scale) / Double(1 << fractionBits)) else {
            throw .invalidParameter(name: "operation '\(d.name)' scales", expected: "a representable input/output scale ratio", found: "\(inQ.scale)/\(outQ.scale)")
        }
        return LocalResponseNormalizationOperation(parameters: CDPParameters(localSize: size, lookupTable: table,
                                                                             outputConverter: OutputConverter(offset: 0, multiplier: multiplier)))
    }

    var requirements: [(HardwareProfile.Capabilities, String)] { [(.cdp, "local response normalization (CDP)")] }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { .int8 }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        .fixed(try query.model.cdp(parameters, elements: query.inputElements))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let input = try operands[0].int8(of: operation)
        return OperatorOutcome(value: .int8(try input.mapSamples(context.output(operation)) { image throws(EngineError) in
            try CDP.run(image, parameters, profile: context.profile)
        }))
    }
}
