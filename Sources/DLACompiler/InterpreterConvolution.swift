/// 2-D grouped convolution for the interpreter: im2col, then one matrix product per image and
/// group. `direct` is the plain loop it must match bit for bit (the same summation order:
/// input channel, kernel row, kernel column; bias added last).
enum InterpreterConvolution {
    struct Shape: Sendable, Hashable {
        var batch: Int
        var channels: Int
        var filters: Int
        var group: Int
        var geometry: WindowGeometry

        var height: Int { geometry.inputSize[0] }
        var width: Int { geometry.inputSize[1] }
        var outputHeight: Int { geometry.outputSize[0] }
        var outputWidth: Int { geometry.outputSize[1] }
        var groupChannels: Int { channels / group }
        var groupFilters: Int { filters / group }
        /// Rows of the column matrix: one per weight of a filter.
        var patch: Int { groupChannels * geometry.kernel[0] * geometry.kernel[1] }
        var outputPlane: Int { outputHeight * outputWidth }
        var outputCount: Int { batch * filters * outputPlane }
    }

    /// `x` `[N, C, H, W]`, `weights` `[M, C/group, kH, kW]`, `bias` `[M]` or empty.
    static func convolve(_ x: [Float], weights: [Float], bias: [Float], shape: Shape) -> [Float] {
        var output = [Float](repeating: 0, count: shape.outputCount)
        var columns = [Float](repeating: 0, count: shape.patch * shape.outputPlane)
        x.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { weights in
                output.withUnsafeMutableBufferPointer { output in
                    columns.withUnsafeMutableBufferPointer { columns in
                        for image in 0..<shape.batch {
                            for group in 0..<shape.group {
                                fillColumns(x, image: image, group: group, shape: shape, into: columns)
                                let filterBase = group * shape.groupFilters
                                let outputStart = (image * shape.filters + filterBase) * shape.outputPlane
                                InterpreterGEMM.multiply(
                                    UnsafeBufferPointer(rebasing: weights[(filterBase * shape.patch)...]), UnsafeBufferPointer(columns),
                                    into: UnsafeMutableBufferPointer(rebasing: output[outputStart...]),
                                    m: shape.groupFilters, n: shape.outputPlane, k: shape.patch, bTransposed: false)
                            }
                        }
                    }
                }
            }
        }
        if !bias.isEmpty { addBias(bias, to: &output, shape: shape) }
        return output
    }

    /// The integer twin for QLinearConv: `x` and `weights` hold code minus zero point; padding is 0.
    static func convolve(_ x: [Float], weights: [Int32], bias: [Int32], shape: Shape) -> [Int32] {
        var output = [Int32](repeating: 0, count: shape.outputCount)
        var columns = [Float](repeating: 0, count: shape.patch * shape.outputPlane)
        var integerColumns = [Int32](repeating: 0, count: columns.count)
        x.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { weights in
                output.withUnsafeMutableBufferPointer { output in
                    for image in 0..<shape.batch {
                        for group in 0..<shape.group {
                            columns.withUnsafeMutableBufferPointer { columns in
                                fillColumns(x, image: image, group: group, shape: shape, into: columns)
                            }
                            for index in columns.indices { integerColumns[index] = Int32(columns[index]) }
                            let filterBase = group * shape.groupFilters
                            let outputStart = (image * shape.filters + filterBase) * shape.outputPlane
                            integerColumns.withUnsafeBufferPointer { columns in
                                InterpreterGEMM.multiply(
                                    UnsafeBufferPointer(rebasing: weights[(filterBase * shape.patch)...]), columns,
                                    into: UnsafeMutableBufferPointer(rebasing: output[outputStart...]),
                                    m: shape.groupFilters, n: shape.outputPlane, k: shape.patch, bTransposed: false)
                            }
                        }
                    }
                }
            }
        }
        if !bias.isEmpty {
            for image in 0..<shape.batch {
                for filter in 0..<shape.filters {
                    let start = (image * shape.filters + filter) * shape.outputPlane
                    for index in start..<(start + shape.outputPlane) { output[index] = output[index] &+ bias[filter] }
                }
            }
        }
        return output
    }

    static func addBias(_ bias: [Float], to output: inout [Float], shape: Shape) {
        output.withUnsafeMutableBufferPointer { output in
            guard let base = output.baseAddress else { return }
            for image in 0..<shape.batch {
                for filter in 0..<shape.filters {
                    let plane = base + (image * shape.filters + filter) * shape.outputPlane
                    let value = bias[filter]
                    var index = 0
                    while index < shape.outputPlane {
                        plane[index] += value
                        index += 1
                    }
                }
            }
        }
    }

    /// Column matrix `[patch, outputPlane]` of one image and group; padding reads as 0.
    static func fillColumns(_ x: UnsafeBufferPointer<Float>, image: Int, group: Int, shape: Shape, into columns: UnsafeMutableBufferPointer<Float>) {
        guard let source = x.baseAddress, let destination = columns.baseAddress else { return }
        let g = shape.geometry
        let (height, width) = (shape.height, shape.width)
        let (outputHeight, outputWidth) = (shape.outputHeight, shape.outputWidth)
        let (kernelHeight, kernelWidth) = (g.kernel[0], g.kernel[1])
        let (strideY, strideX) = (g.strides[0], g.strides[1])
        let (dilationY, dilationX) = (g.dilations[0], g.dilations[1])
        let (padTop, padLeft) = (g.padBegin[0], g.padBegin[1])
        var row = 0
        for channel in 0..<shape.groupChannels {
            let plane = source + ((image * shape.channels) + group * shape.groupChannels + channel) * height * width
            for ky in 0..<kernelHeight {
                for kx in 0..<kernelWidth {
                    let out = destination + row * shape.outputPlane
                    var oy = 0
                    while oy < outputHeight {
                        let iy = oy * strideY - padTop + ky * dilationY
                        let line = out + oy * outputWidth
                        var ox = 0
                        if iy < 0 || iy >= height {
                            while ox < outputWidth {
                                line[ox] = 0
                                ox += 1
                            }
                        } else {
                            let input = plane + iy * width
                            var ix = kx * dilationX - padLeft
                            while ox < outputWidth {
                                line[ox] = ix >= 0 && ix < width ? input[ix] : 0
                                ix += strideX
                                ox += 1
                            }
                        }
                        oy += 1
                    }
                    row += 1
                }
            }
        }
    }

    /// The plain direct convolution `convolve` must equal bit for bit.
    static func direct(_ x: [Float], weights: [Float], bias: [Float], shape: Shape) -> [Float] {
        let g = shape.geometry
        var output = [Float](repeating: 0, count: shape.outputCount)
        for image in 0..<shape.batch {
            for filter in 0..<shape.filters {
                let group = filter / shape.groupFilters
                for oy in 0..<shape.outputHeight {
                    for ox in 0..<shape.outputWidth {
                        var sum: Float = 0
                        for channel in 0..<shape.groupChannels {
                            let inputChannel = group * shape.groupChannels + channel
                            for ky in 0..<g.kernel[0] {
                                for kx in 0..<g.kernel[1] {
                                    let iy = oy * g.strides[0] - g.padBegin[0] + ky * g.dilations[0]
                                    let ix = ox * g.strides[1] - g.padBegin[1] + kx * g.dilations[1]
                                    let inside = iy >= 0 && iy < shape.height && ix >= 0 && ix < shape.width
                                    let value = inside ? x[((image * shape.channels + inputChannel) * shape.height + iy) * shape.width + ix] : 0
                                    sum += value * weights[((filter * shape.groupChannels + channel) * g.kernel[0] + ky) * g.kernel[1] + kx]
                                }
                            }
                        }
                        if !bias.isEmpty { sum += bias[filter] }
                        output[((image * shape.filters + filter) * shape.outputHeight + oy) * shape.outputWidth + ox] = sum
                    }
                }
            }
        }
        return output
    }
}
