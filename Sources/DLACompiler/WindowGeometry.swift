/// Where a 2-D convolution or pooling window lands: kernel, strides, dilations, the padding on
/// each side and the output size, resolved from the ONNX attributes (`auto_pad` included) so
/// that shape inference and the interpreter agree by construction.
struct WindowGeometry: Sendable, Hashable {
    var inputSize: [Int]
    var kernel: [Int]
    var strides: [Int]
    var dilations: [Int]
    var padBegin: [Int]
    var padEnd: [Int]
    var outputSize: [Int]

    /// `spatial`: the input's height and width. `kernel`: the window (a convolution's weight
    /// shape, a pool's `kernel_shape`). `ceilMode`: pooling's `ceil_mode`; a window that would
    /// start in the end padding is dropped, as ONNX Runtime and PyTorch do.
    static func resolve(_ node: GraphNode, spatial: [Int], kernel: [Int], ceilMode: Bool = false) throws(CompilerError) -> WindowGeometry {
        let rank = spatial.count
        func list(_ name: String, default value: Int, count: Int) throws(CompilerError) -> [Int] {
            guard let values = try node.intsAttribute(name) else { return Array(repeating: value, count: count) }
            guard values.count == count else {
                throw .unsupportedAttribute(node: node.label, attribute: name, reason: "has \(values.count) values, expected \(count)")
            }
            return values
        }
        let strides = try list("strides", default: 1, count: rank)
        let dilations = try list("dilations", default: 1, count: rank)
        let limit = 1 << 20
        guard (strides + dilations).allSatisfy({ (1...limit).contains($0) }) else {
            throw .unsupportedAttribute(node: node.label, attribute: "strides/dilations", reason: "must be in 1...\(limit), found \(strides) / \(dilations)")
        }
        let pads = try list("pads", default: 0, count: 2 * rank)
        guard pads.allSatisfy({ (0...limit).contains($0) }) else {
            throw .unsupportedAttribute(node: node.label, attribute: "pads", reason: "must be in 0...\(limit), found \(pads)")
        }
        guard kernel.allSatisfy({ (1...limit).contains($0) }) else {
            throw .shapeMismatch(node: node.label, detail: "kernel \(kernel) must have sizes in 1...\(limit)")
        }
        let autoPad = try node.stringAttribute("auto_pad", default: "NOTSET")
        var geometry = WindowGeometry(inputSize: spatial, kernel: kernel, strides: strides, dilations: dilations,
                                      padBegin: Array(pads[0..<rank]), padEnd: Array(pads[rank...]), outputSize: [])
        for axis in 0..<rank {
            let extent = (kernel[axis] - 1) * dilations[axis] + 1
            let output: Int
            switch autoPad {
            case "NOTSET", "VALID":
                if autoPad == "VALID" {
                    geometry.padBegin[axis] = 0
                    geometry.padEnd[axis] = 0
                }
                let span = spatial[axis] + geometry.padBegin[axis] + geometry.padEnd[axis] - extent
                guard span >= 0 else {
                    throw .shapeMismatch(node: node.label, detail: "window of extent \(extent) exceeds the padded input \(spatial[axis] + geometry.padBegin[axis] + geometry.padEnd[axis]) on spatial axis \(axis)")
                }
                var count = (ceilMode ? (span + strides[axis] - 1) : span) / strides[axis] + 1
                if ceilMode, (count - 1) * strides[axis] >= spatial[axis] + geometry.padBegin[axis] { count -= 1 }
                output = count
            case "SAME_UPPER", "SAME_LOWER":
                output = (spatial[axis] + strides[axis] - 1) / strides[axis]
                let total = max(0, (output - 1) * strides[axis] + extent - spatial[axis])
                let small = total / 2
                geometry.padBegin[axis] = autoPad == "SAME_UPPER" ? small : total - small
                geometry.padEnd[axis] = total - geometry.padBegin[axis]
            default:
                throw .unsupportedAttribute(node: node.label, attribute: "auto_pad", reason: "is '\(autoPad)' (expected NOTSET, VALID, SAME_UPPER or SAME_LOWER)")
            }
            geometry.outputSize.append(output)
        }
        return geometry
    }
}
