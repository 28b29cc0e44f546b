/// MaxPool, AveragePool and the global pools over `[N, C, H, W]` planes, as ONNX defines them:
/// max ignores padding; average divides by the window's elements inside the input
/// (`count_include_pad` 0) or inside the padded input (1). A window overhanging the end
/// padding (ceil mode) counts only what lies within the padding, as ONNX Runtime does.
enum InterpreterPooling {
    static func maxPool(_ x: [Float], planes: Int, geometry g: WindowGeometry) -> [Float] {
        pool(x, planes: planes, geometry: g) { values, _, _ in values.max() ?? -.infinity }
    }

    static func averagePool(_ x: [Float], planes: Int, geometry g: WindowGeometry, countIncludePad: Bool) -> [Float] {
        pool(x, planes: planes, geometry: g) { values, inside, padded in
            var sum: Float = 0
            for value in values { sum += value }
            return sum / Float(countIncludePad ? padded : inside)
        }
    }

    /// Runs `reduce` on every window with the values inside the input, their count and the
    /// count of window taps inside the padded input.
    private static func pool(_ x: [Float], planes: Int, geometry g: WindowGeometry, reduce: ([Float], Int, Int) -> Float) -> [Float] {
        let (height, width) = (g.inputSize[0], g.inputSize[1])
        let (outputHeight, outputWidth) = (g.outputSize[0], g.outputSize[1])
        var output = [Float](repeating: 0, count: planes * outputHeight * outputWidth)
        var window: [Float] = []
        window.reserveCapacity(g.kernel[0] * g.kernel[1])
        for plane in 0..<planes {
            let base = plane * height * width
            for oy in 0..<outputHeight {
                for ox in 0..<outputWidth {
                    window.removeAll(keepingCapacity: true)
                    var padded = 0
                    for ky in 0..<g.kernel[0] {
                        let iy = oy * g.strides[0] - g.padBegin[0] + ky * g.dilations[0]
                        guard iy < height + g.padEnd[0] else { continue }
                        for kx in 0..<g.kernel[1] {
                            let ix = ox * g.strides[1] - g.padBegin[1] + kx * g.dilations[1]
                            guard ix < width + g.padEnd[1] else { continue }
                            padded += 1
                            if iy >= 0, iy < height, ix >= 0, ix < width { window.append(x[base + iy * width + ix]) }
                        }
                    }
                    output[(plane * outputHeight + oy) * outputWidth + ox] = reduce(window, window.count, padded)
                }
            }
        }
        return output
    }

    /// GlobalAveragePool / GlobalMaxPool: one value per plane of `planeSize` elements.
    static func global(_ x: [Float], planes: Int, planeSize: Int, maximum: Bool) -> [Float] {
        (0..<planes).map { plane in
            let values = x[(plane * planeSize)..<((plane + 1) * planeSize)]
            if maximum { return values.max() ?? -.infinity }
            var sum: Float = 0
            for value in values { sum += value }
            return sum / Float(planeSize)
        }
    }
}
