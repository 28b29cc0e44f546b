import DLAEngine
import NVDLALoadable

extension NVDLAUnitContext {
    /// BDMA: each transfer copies `surfaceRepeat` surfaces of `lineRepeat` lines of `lineSize`
    /// bytes, with the limits `kmd/firmware/bdma.c` asserts (line size a multiple of 32 bytes,
    /// strides no shorter than what they step over, at most 8192 repeats).
    mutating func runBDMA(_ d: FirmwareBDMA, index: Int, name: String, memory: inout NVDLAMemory) throws(NVDLARuntimeError) {
        try require(.bdma, "BDMA", "bridge DMA (BDMA)", name)
        guard d.sourceType == .dram, d.destinationType == .dram else {
            throw .unsupported(what: "\(name): BDMA to or from CV-SRAM")
        }
        var moved = 0
        for (t, transfer) in d.transfers.enumerated() {
            let what = "\(name) transfer \(t)"
            let lineSize = Int(transfer.lineSize), lines = Int(transfer.lineRepeat), surfaces = Int(transfer.surfaceRepeat)
            let srcLine = Int(transfer.sourceLine), dstLine = Int(transfer.destinationLine)
            let srcSurface = Int(transfer.sourceSurface), dstSurface = Int(transfer.destinationSurface)
            guard lineSize > 0, lineSize % 32 == 0, (1...8192).contains(lines), (1...8192).contains(surfaces),
                  srcLine >= lineSize, dstLine >= lineSize, srcSurface >= srcLine * lines, dstSurface >= dstLine * lines else {
                throw .invalid(what: what, detail: "line \(lineSize) B × \(lines), surfaces × \(surfaces), strides \(srcLine)/\(dstLine), \(srcSurface)/\(dstSurface) break kmd bdma.c's limits")
            }
            let srcExtent = (surfaces - 1) * srcSurface + (lines - 1) * srcLine + lineSize
            let dstExtent = (surfaces - 1) * dstSurface + (lines - 1) * dstLine + lineSize
            let src = try memory.locate(taskIndex: Int(transfer.sourceAddress), offset: 0, length: srcExtent, what: "\(what) source")
            let dst = try memory.locate(taskIndex: Int(transfer.destinationAddress), offset: 0, length: dstExtent, what: "\(what) destination")
            for s in 0..<surfaces {
                for l in 0..<lines {
                    let line = memory.read(memory: src.memory, offset: src.offset + s * srcSurface + l * srcLine, count: lineSize)
                    memory.write(memory: dst.memory, offset: dst.offset + s * dstSurface + l * dstLine, bytes: Array(line))
                }
            }
            moved += surfaces * lines * lineSize
        }
        let cost = try engine(name) { () throws(EngineError) in try model.dataMovement(.bdma, bytes: moved) }
        record(index, "BDMA \(d.transfers.count) transfer(s), \(moved) B", cost)
    }

    /// RUBIK contract (the reorganization after a deconvolution): input surface block
    /// `(dy·strideX + dx)` holds output phase `(dy, dx)` (nvdla/hw cmod `NV_NVDLA_rbk.cpp`,
    /// `RubikRdmaSequenceContract`), which is `Rubik.contract`'s channel order.
    mutating func runRubik(_ d: FirmwareRubik, index: Int, name: String, memory: inout NVDLAMemory) throws(NVDLARuntimeError) {
        try require(.rubik, "RUBIK", "reshape engine (RUBIK)", name)
        guard d.mode == .contract else {
            throw .unsupported(what: "\(name): RUBIK \(d.mode) mode (contract is modelled)")
        }
        let x = try input(d.source, precision: d.precision, memory: memory, name: name)
        let out = try engine(name) { () throws(EngineError) in
            try Rubik.contract(x, strideY: d.strideY, strideX: d.strideX, profile: profile)
        }
        try output(out, to: d.destination, precision: d.precision, memory: &memory, name: name)
        let cost = try engine(name) { () throws(EngineError) in try model.dataMovement(.rubik, bytes: x.count * d.precision.bytes) }
        record(index, "RUBIK contract \(d.precision) \(d.strideX)×\(d.strideY)", cost)
    }
}
