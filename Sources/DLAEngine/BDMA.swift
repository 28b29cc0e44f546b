/// The bridge DMA: copies between memory regions without other units (nvdla/doc
/// unit_description.rst, "Bridge DMA"). Compiled graphs use it to gather concatenations and
/// slices; NVDLA profiles without BDMA (nv_small, nv_large) run those on the CPU.
public enum BDMA {
    /// Concatenation along `axis`; all other dimensions must match.
    public static func concatenate<T>(_ parts: [Tensor<T>], axis: Int, profile: HardwareProfile) throws(EngineError) -> Tensor<T> {
        try require(profile)
        guard let first = parts.first else {
            throw .invalidParameter(name: "BDMA concatenate", expected: "at least one tensor", found: "none")
        }
        guard axis >= 0, axis < first.shape.count else {
            throw .invalidParameter(name: "BDMA concatenate axis", expected: "0..<\(first.shape.count)", found: "\(axis)")
        }
        var shape = first.shape
        shape[axis] = 0
        for part in parts {
            var expected = first.shape
            expected[axis] = part.shape.count == first.shape.count ? part.shape[axis] : -1
            guard part.shape == expected else {
                throw .shapeMismatch(what: "BDMA concatenate operand", expected: expected, found: part.shape)
            }
            shape[axis] += part.shape[axis]
        }
        let outer = first.shape[..<axis].reduce(1, *)
        var out: [T] = []
        out.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for o in 0..<outer {
            for part in parts {
                let run = part.count / max(outer, 1)
                out.append(contentsOf: part.scalars[(o * run)..<((o + 1) * run)])
            }
        }
        return try Tensor(shape: shape, scalars: out)
    }

    /// The sub-tensor with `range` along `axis`.
    public static func slice<T>(_ x: Tensor<T>, axis: Int, range: Range<Int>, profile: HardwareProfile) throws(EngineError) -> Tensor<T> {
        try require(profile)
        guard axis >= 0, axis < x.shape.count, range.lowerBound >= 0, range.upperBound <= x.shape[axis] else {
            throw .invalidParameter(name: "BDMA slice", expected: "a range within axis of shape \(x.shape)", found: "axis \(axis) range \(range)")
        }
        let outer = x.shape[..<axis].reduce(1, *)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        var shape = x.shape
        shape[axis] = range.count
        var out: [T] = []
        out.reserveCapacity(outer * range.count * inner)
        for o in 0..<outer {
            let base = (o * x.shape[axis] + range.lowerBound) * inner
            out.append(contentsOf: x.scalars[base..<(base + range.count * inner)])
        }
        return try Tensor(shape: shape, scalars: out)
    }

    private static func require(_ profile: HardwareProfile) throws(EngineError) {
        guard profile.capabilities.contains(.bdma) else {
            throw .unsupported(unit: "BDMA", capability: "bridge DMA (BDMA)", profile: profile.name)
        }
    }
}
