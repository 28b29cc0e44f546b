/// Element types a `.dla` file can hold; the raw value is the on-disk code.
public enum DLADataType: UInt8, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case int8 = 1
    case uint8 = 2
    case int32 = 3
    case float32 = 4
    case float16 = 5
    case fp8e4m3 = 6
    case fp8e5m2 = 7

    /// Bytes per element in storage and execution form.
    public var byteWidth: Int {
        switch self {
        case .int8, .uint8, .fp8e4m3, .fp8e5m2: 1
        case .float16: 2
        case .int32, .float32: 4
        }
    }

    public var description: String {
        switch self {
        case .int8: "int8"
        case .uint8: "uint8"
        case .int32: "int32"
        case .float32: "float32"
        case .float16: "float16"
        case .fp8e4m3: "fp8e4m3"
        case .fp8e5m2: "fp8e5m2"
        }
    }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }

    /// Zero points are meaningful only for the integer codes that carry one.
    var allowedZeroPoints: ClosedRange<Int32> {
        switch self {
        case .int8: -128...127
        case .uint8: 0...255
        default: 0...0
        }
    }
}

/// How stored codes map to real numbers: `real = scale × (code − zeroPoint)` for integer
/// types and `real = scale × decode(code)` for floating types (zero point 0).
public enum DLAQuantization: Sendable, Hashable {
    case none
    case perTensor(scale: Float, zeroPoint: Int32)
    /// One scale/zero point per index of dimension `axis` (the output channel for weights).
    case perChannel(axis: Int, scales: [Float], zeroPoints: [Int32])

    /// Number of (scale, zero point) pairs stored.
    public var parameterCount: Int {
        switch self {
        case .none: 0
        case .perTensor: 1
        case .perChannel(_, let scales, _): scales.count
        }
    }

    /// Zero point that applies to element `flatIndex` of a row-major tensor of `shape`.
    func zeroPoint(channelOf flatIndex: Int, innerStride: Int) -> Int32 {
        switch self {
        case .none: 0
        case .perTensor(_, let zeroPoint): zeroPoint
        case .perChannel(_, _, let zeroPoints): zeroPoints[(flatIndex / innerStride) % zeroPoints.count]
        }
    }
}

extension DLAQuantization {
    /// Scales compare by bit pattern: a file round trip must reproduce them exactly.
    public static func == (lhs: DLAQuantization, rhs: DLAQuantization) -> Bool {
        switch (lhs, rhs) {
        case (.none, .none): true
        case let (.perTensor(a, za), .perTensor(b, zb)): a.bitPattern == b.bitPattern && za == zb
        case let (.perChannel(axisA, sa, za), .perChannel(axisB, sb, zb)):
            axisA == axisB && za == zb && sa.map(\.bitPattern) == sb.map(\.bitPattern)
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .none: hasher.combine(0)
        case .perTensor(let scale, let zeroPoint):
            hasher.combine(1); hasher.combine(scale.bitPattern); hasher.combine(zeroPoint)
        case .perChannel(let axis, let scales, let zeroPoints):
            hasher.combine(2); hasher.combine(axis); hasher.combine(scales.map(\.bitPattern)); hasher.combine(zeroPoints)
        }
    }
}
