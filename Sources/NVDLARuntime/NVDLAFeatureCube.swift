import DLAEngine
import DLANumerics
import NVDLALoadable

/// A feature cube in NVDLA's in-memory layout (nvdla/hw cmod; the `.dimg` `CxHWx` formats):
/// channels are grouped into surfaces of one memory atom each, so element `(c, y, x)` sits at
/// `(c / perAtom)·surfaceStride + y·lineStride + x·atomBytes + (c mod perAtom)·bytesPerElement`.
/// The atom is 32 bytes on nv_full and nv_large (`NVDLA_MEMORY_ATOMIC_SIZE 32`) and 8 on
/// nv_small (`NVDLA_MEMORY_ATOMIC_SIZE 8`), nvdla/hw `spec/defs`.
struct NVDLAFeatureCube {
    let memory: Int
    let base: Int
    let channels: Int
    let height: Int
    let width: Int
    let lineStride: Int
    let surfaceStride: Int
    let precision: FirmwarePrecision
    let atomBytes: Int

    var elementsPerAtom: Int { atomBytes / precision.bytes }
    var shape: [Int] { [channels, height, width] }
    var count: Int { channels * height * width }

    /// Memory atom of a profile, in bytes: 8 on nv_small (the 8×8 MAC array), 32 elsewhere.
    static func atomBytes(_ profile: HardwareProfile) -> Int { profile.atomicC == 8 ? 8 : 32 }

    /// One past the last byte any element of a cube occupies. The last surface may hold fewer
    /// channels than an atom: NVIDIA packs a 1×1×20 FP16 bias in 40 bytes.
    static func extent(channels: Int, height: Int, width: Int, lineStride: Int, surfaceStride: Int,
                       atomBytes: Int, bytesPerElement: Int) -> Int {
        let perAtom = atomBytes / bytesPerElement
        let surfaces = (channels + perAtom - 1) / perAtom
        let lastChannels = channels - (surfaces - 1) * perAtom
        let lastSurfaceEnd = (surfaces - 1) * surfaceStride + (height - 1) * lineStride + (width - 1) * atomBytes + lastChannels * bytesPerElement
        let fullSurfaceEnd = surfaces > 1 ? (surfaces - 2) * surfaceStride + (height - 1) * lineStride + width * atomBytes : 0
        return max(lastSurfaceEnd, fullSurfaceEnd)
    }

    /// Locates `cube` and checks that every element lies inside its address-list entry.
    init(_ cube: FirmwareDataCube, precision: FirmwarePrecision, memory image: NVDLAMemory, profile: HardwareProfile,
         what: String) throws(NVDLARuntimeError) {
        guard cube.memoryType == .dram else {
            throw .unsupported(what: "\(what) in \(cube.memoryType == .sram ? "CV-SRAM" : "another unit") (only DRAM cubes are modelled here)")
        }
        guard cube.width > 0, cube.height > 0, cube.channel > 0 else {
            throw .invalid(what: what, detail: "empty cube \(cube.channel)×\(cube.height)×\(cube.width)")
        }
        let atom = Self.atomBytes(profile)
        let perAtom = atom / precision.bytes
        let surfaces = (cube.channel + perAtom - 1) / perAtom
        let line = Int(cube.lineStride), surface = Int(cube.surfaceStride)
        guard line >= cube.width * atom, surfaces == 1 || surface >= line * cube.height else {
            throw .invalid(what: what, detail: "line stride \(line) / surface stride \(surface) overlap a \(cube.width)-wide, \(cube.height)-high cube of \(atom)-byte atoms")
        }
        let extent = Self.extent(channels: cube.channel, height: cube.height, width: cube.width, lineStride: line,
                                 surfaceStride: surface, atomBytes: atom, bytesPerElement: precision.bytes)
        let place = try image.locate(taskIndex: Int(cube.address), offset: Int(cube.offset), length: extent, what: what)
        memory = place.memory
        base = place.offset
        channels = cube.channel
        height = cube.height
        width = cube.width
        lineStride = line
        surfaceStride = surface
        self.precision = precision
        atomBytes = atom
    }

    @inline(__always)
    func offset(_ c: Int, _ y: Int, _ x: Int) -> Int {
        base + (c / elementsPerAtom) * surfaceStride + y * lineStride + x * atomBytes + (c % elementsPerAtom) * precision.bytes
    }

    /// The cube as planar `[C, H, W]` integers (INT8 and INT16 sign-extended; FP16 as raw bits).
    func gatherIntegers(_ image: NVDLAMemory) -> [Int32] {
        let bytes = image.memories[memory]!
        var out = [Int32](repeating: 0, count: count)
        var i = 0
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<width {
                    let o = offset(c, y, x)
                    out[i] = precision == .int8
                        ? Int32(Int8(bitPattern: bytes[o]))
                        : Int32(Int16(bitPattern: UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8))
                    i += 1
                }
            }
        }
        return out
    }

    /// FP16 cubes as Float.
    func gatherFloats(_ image: NVDLAMemory) -> [Float] {
        gatherIntegers(image).map { FP16.decode(UInt16(truncatingIfNeeded: $0)) }
    }

    /// Writes planar `[C, H, W]` values (already in the element type's range) into the cube.
    func scatter(_ values: [Int32], into image: inout NVDLAMemory) throws(NVDLARuntimeError) {
        guard values.count == count else {
            throw .invalid(what: "result cube", detail: "\(values.count) values for \(count) elements")
        }
        let bpe = precision.bytes
        try image.withBytes(memory: memory) { (bytes: inout [UInt8]) throws(NVDLARuntimeError) in
            var i = 0
            for c in 0..<channels {
                for y in 0..<height {
                    for x in 0..<width {
                        let o = offset(c, y, x)
                        let v = UInt16(truncatingIfNeeded: values[i])
                        bytes[o] = UInt8(truncatingIfNeeded: v)
                        if bpe == 2 { bytes[o + 1] = UInt8(truncatingIfNeeded: v >> 8) }
                        i += 1
                    }
                }
            }
        }
    }

    /// The range of one element of `precision` (integers).
    static func range(_ precision: FirmwarePrecision) -> ClosedRange<Int32> {
        precision == .int8 ? -128...127 : -32768...32767
    }
}
