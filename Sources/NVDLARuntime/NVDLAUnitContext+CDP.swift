import DLAEngine
import DLANumerics
import NVDLALoadable

extension NVDLAUnitContext {
    /// CDP (local response normalization) on DLAEngine's `CDP.runIntegers`, with the LUT, the
    /// converters and the bypasses `kmd/firmware/cdp.c` programs.
    mutating func runCDP(_ d: FirmwareCDP, index: Int, name: String, memory: inout NVDLAMemory) throws(NVDLARuntimeError) {
        try require(.cdp, "CDP", "local response normalization (CDP)", name)
        guard d.inputPrecision == d.outputPrecision, d.inputPrecision != .fp16 else {
            throw .unsupported(what: "\(name): CDP \(d.inputPrecision)→\(d.outputPrecision) (INT8 and INT16 are modelled)")
        }
        guard d.lutIndex >= 0 else { throw .invalid(what: name, detail: "CDP needs a LUT (lut_index is -1)") }
        let table = try lookupTable(network.luts[Int(d.lutIndex)], name: name)
        let x = try input(d.source, precision: d.inputPrecision, memory: memory, name: name)
        var p = CDPParameters(
            localSize: d.localSize,
            inputConverter: OutputConverter(offset: d.inputConverter.offset, scale: d.inputConverter.scale, shift: d.inputConverter.truncate),
            lookupTable: table,
            outputConverter: OutputConverter(offset: d.outputConverter.offset, scale: d.outputConverter.scale, shift: d.outputConverter.truncate))
        p.bypassSquareSum = d.bypassSquareSum
        p.bypassMultiply = d.bypassOutputMultiply
        let out = try engine(name) { () throws(EngineError) in
            try CDP.runIntegers(x, p, inputBits: d.inputPrecision.bytes * 8, outputRange: NVDLAFeatureCube.range(d.outputPrecision), profile: profile)
        }
        try output(out, to: d.destination, precision: d.outputPrecision, memory: &memory, name: name)
        let cost = try engine(name) { () throws(EngineError) in try model.cdp(p, elements: x.count) }
        record(index, "CDP \(d.inputPrecision) LRN over \(d.localSize) channels", cost)
    }

    /// A firmware LUT (`dla_lut_param`) as DLAEngine's `LookupTable`, the registers
    /// `kmd/firmware/common.c` (`update_lut`) writes from it.
    func lookupTable(_ lut: FirmwareLUT, name: String) throws(NVDLARuntimeError) -> LookupTable {
        func slope(_ s: FirmwareLUT.Slope) -> LookupTable.Slope { LookupTable.Slope(scale: s.scale, shift: Int(s.shifter)) }
        let leMode: LookupTable.IndexMode = lut.method == 0
            ? .exponential(indexOffset: Int(lut.linearExponentOffset)) : .linear(indexShift: Int(lut.linearExponentOffset))
        let le = LookupTable.Table(entries: lut.linearExponentTable, start: lut.linearExponentStart, mode: leMode,
                                   underflow: slope(lut.linearExponentUnderflow), overflow: slope(lut.linearExponentOverflow),
                                   end: lut.linearExponentEnd)
        let lo = LookupTable.Table(entries: lut.linearOnlyTable, start: lut.linearOnlyStart, mode: .linear(indexShift: Int(lut.linearOnlyOffset)),
                                   underflow: slope(lut.linearOnlyUnderflow), overflow: slope(lut.linearOnlyOverflow),
                                   end: lut.linearOnlyEnd)
        func which(_ priority: UInt8) -> LookupTable.Which { priority == 0 ? .le : .lo }
        return try engine(name) { () throws(EngineError) in
            try LookupTable(le: le, lo: lo, hitPriority: which(lut.hybridPriority),
                            underflowPriority: which(lut.underflowPriority), overflowPriority: which(lut.overflowPriority))
        }
    }
}
