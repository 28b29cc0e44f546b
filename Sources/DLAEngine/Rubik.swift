/// RUBIK, NVDLA's data-reshape engine (nvdla/doc unit_description.rst, RUBIK): contract (the
/// depth-to-space reorganization after a deconvolution), split (a packed feature cube into
/// planes) and merge (planes into a packed cube). Compiled graphs also send reshape and transpose
/// here: on the hardware they are split/merge passes over the cube.
public enum Rubik {
    /// Contract: `[C·sy·sx, H, W]` → `[C, H·sy, W·sx]`, output `(c, y·sy + dy, x·sx + dx)` taken
    /// from input channel `(dy·sx + dx)·C + c` (the kernel phase selects the channel block).
    /// Strides are 1...32, the 5-bit `RBK_D_DECONV_STRIDE` fields (nvdla/hw `arnvdla.h`).
    public static func contract<T>(_ x: Tensor<T>, strideY: Int, strideX: Int, profile: HardwareProfile) throws(EngineError) -> Tensor<T> {
        try require(profile)
        try EngineError.require("RUBIK contract strideY", strideY, in: 1...32)
        try EngineError.require("RUBIK contract strideX", strideX, in: 1...32)
        let (channels, height, width) = try x.featureMapDimensions("RUBIK contract input")
        let phases = strideY * strideX
        guard channels % phases == 0 else {
            throw .invalidParameter(name: "RUBIK contract channels", expected: "a multiple of \(phases)", found: "\(channels)")
        }
        let c = channels / phases
        let oh = height * strideY, ow = width * strideX
        var out = x.scalars
        for block in 0..<phases {
            let dy = block / strideX, dx = block % strideX
            for ci in 0..<c {
                for y in 0..<height {
                    for xx in 0..<width {
                        out[(ci * oh + y * strideY + dy) * ow + xx * strideX + dx] = x.scalars[((block * c + ci) * height + y) * width + xx]
                    }
                }
            }
        }
        return try Tensor(shape: [c, oh, ow], scalars: out)
    }

    /// Merge: planar `[C, H, W]` into NVDLA's packed feature format, surfaces of `atom` channels
    /// (`C/atom × H × W × atom`, memory atomic size from the spec), padding the last surface with
    /// `fill`.
    public static func merge<T>(_ planes: Tensor<T>, atom: Int, fill: T, profile: HardwareProfile) throws(EngineError) -> [T] {
        try require(profile)
        try EngineError.require("RUBIK atom", atom, in: 1...128)
        let (channels, height, width) = try planes.featureMapDimensions("RUBIK merge input")
        let surfaces = (channels + atom - 1) / atom
        var packed = [T](repeating: fill, count: surfaces * height * width * atom)
        for c in 0..<channels {
            for i in 0..<(height * width) {
                packed[((c / atom) * height * width + i) * atom + c % atom] = planes.scalars[c * height * width + i]
            }
        }
        return packed
    }

    /// Split: the inverse of `merge`, a packed cube back into `channels` planes.
    public static func split<T>(_ packed: [T], channels: Int, height: Int, width: Int, atom: Int, profile: HardwareProfile) throws(EngineError) -> Tensor<T> {
        try require(profile)
        try EngineError.require("RUBIK atom", atom, in: 1...128)
        let surfaces = (channels + atom - 1) / atom
        guard channels > 0, height > 0, width > 0, packed.count == surfaces * height * width * atom else {
            throw .elementCountMismatch(what: "RUBIK packed cube [\(channels), \(height), \(width)] atom \(atom)",
                                        expected: surfaces * height * width * atom, found: packed.count)
        }
        let planes = (0..<(channels * height * width)).map { index in
            let c = index / (height * width), i = index % (height * width)
            return packed[((c / atom) * height * width + i) * atom + c % atom]
        }
        return try Tensor(shape: [channels, height, width], scalars: planes)
    }

    /// Transpose: axis `i` of the result is axis `permutation[i]` of the input.
    public static func transpose<T>(_ x: Tensor<T>, permutation: [Int], profile: HardwareProfile) throws(EngineError) -> Tensor<T> {
        try require(profile)
        guard permutation.sorted() == Array(0..<x.shape.count) else {
            throw .invalidParameter(name: "RUBIK transpose permutation", expected: "a permutation of 0..<\(x.shape.count)", found: "\(permutation)")
        }
        let rank = x.shape.count
        let outShape = permutation.map { x.shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) {
            inStrides[axis] = inStrides[axis + 1] * x.shape[axis + 1]
        }
        let strides = permutation.map { inStrides[$0] }
        var out: [T] = []
        out.reserveCapacity(x.count)
        var index = [Int](repeating: 0, count: rank)
        for _ in 0..<x.count {
            var offset = 0
            for axis in 0..<rank { offset += index[axis] * strides[axis] }
            out.append(x.scalars[offset])
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return try Tensor(shape: outShape, scalars: out)
    }

    private static func require(_ profile: HardwareProfile) throws(EngineError) {
        guard profile.capabilities.contains(.rubik) else {
            throw .unsupported(unit: "RUBIK", capability: "reshape engine (RUBIK)", profile: profile.name)
        }
    }
}
