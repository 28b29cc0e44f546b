import DLANumerics

/// A C-order (row-major) array as stored in a `.npy` file: dtype, shape and the raw
/// little-endian element bytes. The initializers guarantee `data.count == count × itemSize`.
public struct NPYArray: Sendable, Equatable {
    public let dtype: NPYDType
    /// Dimensions, outermost first; `[]` is a scalar (one element).
    public let shape: [Int]
    /// Raw little-endian element bytes, C order.
    public let data: [UInt8]

    /// Number of elements: the product of `shape`.
    public var count: Int { data.count / dtype.itemSize }

    /// Wraps raw little-endian bytes; throws when their length does not match shape and dtype.
    public init(dtype: NPYDType, shape: [Int], data: [UInt8]) throws(NPYError) {
        let elements = try Self.elementCount(shape)
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow else { throw .shapeOverflow(shape: shape) }
        guard data.count == bytes else {
            throw .countMismatch(shape: shape, expectedCount: elements, count: data.count / dtype.itemSize)
        }
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    public init(float32 values: [Float], shape: [Int]) throws(NPYError) {
        try self.init(dtype: .float32, shape: shape, values: values) { $0.bitPattern }
    }

    public init(float64 values: [Double], shape: [Int]) throws(NPYError) {
        try self.init(dtype: .float64, shape: shape, values: values) { $0.bitPattern }
    }

    /// FP16 elements given as IEEE binary16 bit patterns (see `FP16.encode`).
    public init(float16Bits values: [UInt16], shape: [Int]) throws(NPYError) {
        try self.init(dtype: .float16, shape: shape, values: values) { $0 }
    }

    public init(int8 values: [Int8], shape: [Int]) throws(NPYError) {
        try self.init(dtype: .int8, shape: shape, values: values) { UInt8(bitPattern: $0) }
    }

    public init(uint8 values: [UInt8], shape: [Int]) throws(NPYError) {
        try self.init(dtype: .uint8, shape: shape, values: values) { $0 }
    }

    public init(int32 values: [Int32], shape: [Int]) throws(NPYError) {
        try self.init(dtype: .int32, shape: shape, values: values) { UInt32(bitPattern: $0) }
    }

    public init(int64 values: [Int64], shape: [Int]) throws(NPYError) {
        try self.init(dtype: .int64, shape: shape, values: values) { UInt64(bitPattern: $0) }
    }

    /// Every element converted to Float32: exact for float16/float32/int8/uint8, rounded to
    /// nearest for float64 and for integers beyond 2^24.
    public func asFloat32() -> [Float] {
        switch dtype {
        case .float32: float32Elements()
        case .float64: elements(UInt64.self).map { Float(Double(bitPattern: $0)) }
        case .float16: elements(UInt16.self).map(FP16.decode)
        case .int8: data.map { Float(Int8(bitPattern: $0)) }
        case .uint8: data.map { Float($0) }
        case .int32: elements(UInt32.self).map { Float(Int32(bitPattern: $0)) }
        case .int64: elements(UInt64.self).map { Float(Int64(bitPattern: $0)) }
        }
    }

    /// The elements of an int32 array; nil for any other dtype.
    public var int32Elements: [Int32]? {
        dtype == .int32 ? elements(UInt32.self).map { Int32(bitPattern: $0) } : nil
    }

    /// Every element converted to Float64 (exact except int64 beyond 2^53).
    public func asFloat64() -> [Double] {
        switch dtype {
        case .float64: elements(UInt64.self).map { Double(bitPattern: $0) }
        case .int64: elements(UInt64.self).map { Double(Int64(bitPattern: $0)) }
        default: asFloat32().map { Double($0) }
        }
    }

    /// Every element of an integer array widened to Int64; floating-point arrays throw rather
    /// than truncate silently.
    public func asInt64() throws(NPYError) -> [Int64] {
        switch dtype {
        case .int8: data.map { Int64(Int8(bitPattern: $0)) }
        case .uint8: data.map { Int64($0) }
        case .int32: elements(UInt32.self).map { Int64(Int32(bitPattern: $0)) }
        case .int64: elements(UInt64.self).map { Int64(bitPattern: $0) }
        case .float16, .float32, .float64: throw .notAnIntegerArray(dtype)
        }
    }

    /// The product of `shape`, checked: more dimensions than numpy supports, negative
    /// dimensions and overflow throw.
    static func elementCount(_ shape: [Int]) throws(NPYError) -> Int {
        guard shape.count <= NPYHeader.maxDimensions else {
            throw .invalidShape(reason: "\(shape.count) dimensions (numpy allows at most \(NPYHeader.maxDimensions))")
        }
        var product = 1
        for dimension in shape {
            guard dimension >= 0 else { throw .invalidShape(reason: "negative dimension \(dimension) in \(shape)") }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw .shapeOverflow(shape: shape) }
            product = next
        }
        return product
    }

    private init<Value, Bits: FixedWidthInteger & UnsignedInteger>(
        dtype: NPYDType, shape: [Int], values: [Value], bits: (Value) -> Bits
    ) throws(NPYError) {
        let expected = try Self.elementCount(shape)
        guard values.count == expected else {
            throw .countMismatch(shape: shape, expectedCount: expected, count: values.count)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * MemoryLayout<Bits>.size)
        for value in values {
            let pattern = bits(value)
            for byte in 0..<MemoryLayout<Bits>.size {
                bytes.append(UInt8(truncatingIfNeeded: pattern >> (8 * byte)))
            }
        }
        self.dtype = dtype
        self.shape = shape
        self.data = bytes
    }

    /// A float32 array's elements: one copy of the bytes on a little-endian host (the daemon
    /// binds every `.npy` request body through here), the portable path elsewhere.
    private func float32Elements() -> [Float] {
        #if _endian(little)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw.prefix(count * 4)))
            }
            initialized = count
        }
        #else
        return elements(UInt32.self).map { Float(bitPattern: $0) }
        #endif
    }

    /// The elements as little-endian unsigned integers of the dtype's width, independent of the
    /// host's byte order.
    private func elements<Bits: FixedWidthInteger & UnsignedInteger>(_: Bits.Type) -> [Bits] {
        let width = MemoryLayout<Bits>.size
        return data.withUnsafeBytes { raw in
            (0..<count).map { Bits(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * width, as: Bits.self)) }
        }
    }
}
