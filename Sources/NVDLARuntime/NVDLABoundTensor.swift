import DLAEngine
import DLANumerics
import NVDLALoadable

/// The elements of a bound input or output tensor, planar `[C, H, W]`, and how they sit in the
/// tensor's memory: feature data in atoms of the profile's memory atom (32 bytes; 8 on nv_small,
/// whatever the descriptor's pixel format says), line and surface strides from the descriptor.
public struct NVDLABoundTensor: Sendable {
    public enum Element: Sendable, Equatable { case int8, int16, float16 }

    public let name: String
    public let shape: [Int]
    public let element: Element
    let lineStride: Int
    let surfaceStride: Int
    let atomBytes: Int
    let size: Int

    public init(_ tensor: NVDLALoadableFile.TensorDescriptor, profile: HardwareProfile) throws(NVDLARuntimeError) {
        let element: Element
        switch tensor.dataType {
        case .int8: element = .int8
        case .int16: element = .int16
        case .half: element = .float16
        default: throw .unsupported(what: "tensor '\(tensor.name)' of type \(tensor.dataType)")
        }
        guard tensor.n == 1, tensor.c > 0, tensor.h > 0, tensor.w > 0 else {
            throw .unsupported(what: "tensor '\(tensor.name)' of dims n\(tensor.n) c\(tensor.c) h\(tensor.h) w\(tensor.w) (one image of positive size)")
        }
        self.name = tensor.name
        self.element = element
        shape = [Int(tensor.c), Int(tensor.h), Int(tensor.w)]
        lineStride = Int(tensor.lineStride)
        surfaceStride = Int(tensor.surfaceStride)
        atomBytes = NVDLAFeatureCube.atomBytes(profile)
        size = Int(tensor.size)
        let extent = NVDLAFeatureCube.extent(channels: shape[0], height: shape[1], width: shape[2], lineStride: lineStride,
                                             surfaceStride: surfaceStride, atomBytes: atomBytes, bytesPerElement: bytesPerElement)
        guard lineStride >= shape[2] * atomBytes, extent <= size else {
            throw .invalid(what: "tensor '\(tensor.name)'", detail: "\(shape[0])×\(shape[1])×\(shape[2]) elements in \(atomBytes)-byte atoms with line stride \(lineStride) and surface stride \(surfaceStride) do not fit its \(size) bytes")
        }
    }

    public var bytesPerElement: Int { element == .int8 ? 1 : 2 }
    public var count: Int { shape.reduce(1, *) }

    func offset(_ c: Int, _ y: Int, _ x: Int) -> Int {
        let perAtom = atomBytes / bytesPerElement
        return (c / perAtom) * surfaceStride + y * lineStride + x * atomBytes + (c % perAtom) * bytesPerElement
    }

    /// Planar raw element values (INT8 and INT16 sign-extended, FP16 as its bit pattern) from the
    /// tensor's bytes.
    public func elements(of bytes: [UInt8]) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count)
        for c in 0..<shape[0] {
            for y in 0..<shape[1] {
                for x in 0..<shape[2] {
                    let o = offset(c, y, x)
                    switch element {
                    case .int8: out.append(Int32(Int8(bitPattern: bytes[o])))
                    case .int16: out.append(Int32(Int16(bitPattern: UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8)))
                    case .float16: out.append(Int32(UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8))
                    }
                }
            }
        }
        return out
    }

    /// The tensor's bytes holding planar raw `values` (FP16 as bit patterns), zero elsewhere, as
    /// NVIDIA's runtime prepares an input buffer (`createImageCopy` clears it first).
    public func bytes(of values: [Int32]) throws(NVDLARuntimeError) -> [UInt8] {
        guard values.count == count else {
            throw .invalid(what: "tensor '\(name)'", detail: "\(values.count) values for \(shape[0])×\(shape[1])×\(shape[2]) elements")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var i = 0
        for c in 0..<shape[0] {
            for y in 0..<shape[1] {
                for x in 0..<shape[2] {
                    let o = offset(c, y, x)
                    let v = UInt16(truncatingIfNeeded: values[i])
                    bytes[o] = UInt8(truncatingIfNeeded: v)
                    if bytesPerElement == 2 { bytes[o + 1] = UInt8(truncatingIfNeeded: v >> 8) }
                    i += 1
                }
            }
        }
        return bytes
    }

    /// A grayscale image's pixels as NVIDIA's runtime test converts them for this tensor
    /// (`createImageCopy`, mean 0 and normalization 1): FP16 of the pixel value, or INT8
    /// `⌊p·127/255 + 0.5⌋`. The tensor must have one channel and the image's size.
    public func values(ofPixels pixels: [UInt8], width: Int, height: Int) throws(NVDLARuntimeError) -> [Int32] {
        guard shape == [1, height, width] else {
            throw .invalid(what: "tensor '\(name)'", detail: "a \(width)×\(height) grayscale image needs a 1×\(height)×\(width) tensor, this one is \(shape[0])×\(shape[1])×\(shape[2])")
        }
        switch element {
        case .float16: return pixels.map { Int32(FP16.encode(Float($0))) }
        case .int8: return pixels.map { Int32((Double($0) * 127.0 / 255.0 + 0.5).rounded(.down)) }
        case .int16: throw .unsupported(what: "a grayscale image into INT16 tensor '\(name)' (NVIDIA's runtime converts only to FP16 and INT8)")
        }
    }
}
