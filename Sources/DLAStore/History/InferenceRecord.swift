/// What one inference request produced, as the daemon hands it to the history.
public struct InferenceRecord: Sendable, Equatable {
    public var model: String
    public var version: Int
    public var batchSize: Int
    public var status: InferenceStatus
    public var latencyMicroseconds: Int64
    public var emulatedCycles: Int64
    public var energyPicojoules: Double
    /// SHA-256 of the input tensor bytes, computed by the caller (32 bytes).
    public var inputSHA256: [UInt8]
    /// The input itself; kept only when `StoreOptions.storeInputs` is on.
    public var input: [UInt8]?
    /// The outputs in the caller's compact binary encoding, stored as given.
    public var outputs: [UInt8]
    /// One entry per sample for a successful request; empty for a failed one.
    public var top1: [TopClass]
    public var clientUID: UInt32
    /// The id the daemon answered with (`X-Request-Id`) and logged (journal field REQUEST_ID),
    /// so a log line leads to its row; empty for rows stored before schema 3.
    public var requestID: String
    /// Why a failed request failed, as its client was told; nil for a successful one.
    public var error: String?

    /// The longest request id and error message stored.
    public static let maxRequestIDBytes = 128
    public static let maxErrorBytes = 2048

    public init(
        model: String, version: Int, batchSize: Int, status: InferenceStatus,
        latencyMicroseconds: Int64, emulatedCycles: Int64, energyPicojoules: Double,
        inputSHA256: [UInt8], input: [UInt8]? = nil, outputs: [UInt8], top1: [TopClass], clientUID: UInt32,
        requestID: String = "", error: String? = nil
    ) {
        self.model = model
        self.version = version
        self.batchSize = batchSize
        self.status = status
        self.latencyMicroseconds = latencyMicroseconds
        self.emulatedCycles = emulatedCycles
        self.energyPicojoules = energyPicojoules
        self.inputSHA256 = inputSHA256
        self.input = input
        self.outputs = outputs
        self.top1 = top1
        self.clientUID = clientUID
        self.requestID = requestID
        self.error = error
    }
}

/// How a request ended: `ok`, or the daemon's error code (never 0, which is stored for ok).
public enum InferenceStatus: Sendable, Equatable, Hashable {
    case ok
    case failed(code: Int32)

    var storedValue: Int64 {
        switch self {
        case .ok: return 0
        case .failed(let code): return Int64(code)
        }
    }

    init(storedValue: Int64) {
        self = storedValue == 0 ? .ok : .failed(code: Int32(truncatingIfNeeded: storedValue))
    }
}

/// The top-1 class of one sample and its score.
///
/// Stored per row as one compact blob of 8 bytes per sample (class as UInt32, score as Float32,
/// little-endian) rather than as child rows: a request's samples are always read together, a
/// child table would multiply inserts by the batch size and cost the group commit throughput,
/// and no query selects by class.
public struct TopClass: Sendable, Equatable, Hashable {
    public var classIndex: UInt32
    public var score: Float

    public init(classIndex: UInt32, score: Float) {
        self.classIndex = classIndex
        self.score = score
    }

    static let encodedSize = 8

    static func encode(_ classes: [TopClass]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(classes.count * encodedSize)
        for entry in classes {
            withUnsafeBytes(of: entry.classIndex.littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: entry.score.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) throws(DLAStoreError) -> [TopClass] {
        guard bytes.count % encodedSize == 0 else {
            throw .invalidArgument(
                "top-1 blob: expected a multiple of \(encodedSize) bytes, found \(bytes.count)")
        }
        var classes: [TopClass] = []
        classes.reserveCapacity(bytes.count / encodedSize)
        var offset = 0
        while offset < bytes.count {
            let classIndex = littleEndianUInt32(bytes, at: offset)
            let score = Float(bitPattern: littleEndianUInt32(bytes, at: offset + 4))
            classes.append(TopClass(classIndex: classIndex, score: score))
            offset += encodedSize
        }
        return classes
    }

    private static func littleEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
            | UInt32(bytes[offset + 3]) << 24
    }
}
