/// Element storage in execution form: one typed array per data type, so the engine reads
/// values without conversion. Floating-point formats without a Swift type (FP16, FP8) are
/// kept as their bit patterns.
public enum DLATensorValues: Sendable {
    case int8([Int8])
    case uint8([UInt8])
    case int32([Int32])
    case float32([Float])
    /// IEEE binary16 bit patterns.
    case float16([UInt16])
    /// OCP FP8 E4M3 (finite, NaN = 0x7F/0xFF) bit patterns.
    case fp8e4m3([UInt8])
    /// OCP FP8 E5M2 bit patterns.
    case fp8e5m2([UInt8])

    public var dataType: DLADataType {
        switch self {
        case .int8: .int8
        case .uint8: .uint8
        case .int32: .int32
        case .float32: .float32
        case .float16: .float16
        case .fp8e4m3: .fp8e4m3
        case .fp8e5m2: .fp8e5m2
        }
    }

    public var count: Int {
        switch self {
        case .int8(let values): values.count
        case .uint8(let values), .fp8e4m3(let values), .fp8e5m2(let values): values.count
        case .int32(let values): values.count
        case .float32(let values): values.count
        case .float16(let values): values.count
        }
    }

    /// Element `index` as an unsigned code of the type's width (bit pattern for floats).
    public func code(at index: Int) -> UInt32 {
        switch self {
        case .int8(let values): UInt32(UInt8(bitPattern: values[index]))
        case .uint8(let values), .fp8e4m3(let values), .fp8e5m2(let values): UInt32(values[index])
        case .int32(let values): UInt32(bitPattern: values[index])
        case .float32(let values): values[index].bitPattern
        case .float16(let values): UInt32(values[index])
        }
    }

    /// All elements as unsigned codes of the type's width.
    public var codes: [UInt32] {
        switch self {
        case .int8(let values): values.map { UInt32(UInt8(bitPattern: $0)) }
        case .uint8(let values), .fp8e4m3(let values), .fp8e5m2(let values): values.map { UInt32($0) }
        case .int32(let values): values.map { UInt32(bitPattern: $0) }
        case .float32(let values): values.map(\.bitPattern)
        case .float16(let values): values.map { UInt32($0) }
        }
    }

    /// Builds typed storage from unsigned codes (the inverse of `codes`).
    public init(codes: [UInt32], dataType: DLADataType) {
        switch dataType {
        case .int8: self = .int8(codes.map { Int8(truncatingIfNeeded: $0) })
        case .uint8: self = .uint8(codes.map { UInt8(truncatingIfNeeded: $0) })
        case .int32: self = .int32(codes.map { Int32(bitPattern: $0) })
        case .float32: self = .float32(codes.map { Float(bitPattern: $0) })
        case .float16: self = .float16(codes.map { UInt16(truncatingIfNeeded: $0) })
        case .fp8e4m3: self = .fp8e4m3(codes.map { UInt8(truncatingIfNeeded: $0) })
        case .fp8e5m2: self = .fp8e5m2(codes.map { UInt8(truncatingIfNeeded: $0) })
        }
    }

    /// Little-endian storage bytes (the dense on-disk form).
    var littleEndianBytes: [UInt8] {
        switch self {
        case .int8(let values): values.map { UInt8(bitPattern: $0) }
        case .uint8(let values), .fp8e4m3(let values), .fp8e5m2(let values): values
        case .int32(let values): Self.littleEndian(values.map { UInt32(bitPattern: $0) })
        case .float32(let values): Self.littleEndian(values.map(\.bitPattern))
        case .float16(let values): Self.littleEndian(values)
        }
    }

    /// Decodes `count` little-endian elements straight into typed storage (one copy).
    static func fromLittleEndian(_ bytes: [UInt8], range: Range<Int>, dataType: DLADataType) -> DLATensorValues {
        let slice = bytes[range]
        switch dataType {
        case .int8: return .int8(slice.map { Int8(bitPattern: $0) })
        case .uint8: return .uint8(Array(slice))
        case .fp8e4m3: return .fp8e4m3(Array(slice))
        case .fp8e5m2: return .fp8e5m2(Array(slice))
        case .float16: return .float16(readLittleEndian(bytes, range: range))
        case .int32: return .int32(readLittleEndian(bytes, range: range).map { (code: UInt32) in Int32(bitPattern: code) })
        case .float32: return .float32(readLittleEndian(bytes, range: range).map { (code: UInt32) in Float(bitPattern: code) })
        }
    }

    private static func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * T.bitWidth / 8)
        for value in values { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    private static func readLittleEndian<T: FixedWidthInteger>(_ bytes: [UInt8], range: Range<Int>) -> [T] {
        let width = T.bitWidth / 8
        let count = range.count / width
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { raw in
                for index in 0..<count {
                    buffer[index] = T(littleEndian: raw.loadUnaligned(fromByteOffset: range.lowerBound + index * width, as: T.self))
                }
            }
            initialized = count
        }
    }
}

extension DLATensorValues: Equatable {
    /// Compares bit patterns, so NaN payloads and −0 count as stored.
    public static func == (lhs: DLATensorValues, rhs: DLATensorValues) -> Bool {
        switch (lhs, rhs) {
        case let (.int8(a), .int8(b)): a == b
        case let (.uint8(a), .uint8(b)), let (.fp8e4m3(a), .fp8e4m3(b)), let (.fp8e5m2(a), .fp8e5m2(b)): a == b
        case let (.int32(a), .int32(b)): a == b
        case let (.float32(a), .float32(b)): a.map(\.bitPattern) == b.map(\.bitPattern)
        case let (.float16(a), .float16(b)): a == b
        default: false
        }
    }
}

extension DLATensorValues: Hashable {
    /// Hashes type and size only; equal values always hash equally, which is all Hashable needs.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(dataType)
        hasher.combine(count)
    }
}
