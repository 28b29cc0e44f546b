/// Everything the engine can reject. Each case names what was expected and what was found, so a
/// message reaches the user without context from the call site.
public enum EngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A tensor's shape does not fit the operation.
    case shapeMismatch(what: String, expected: [Int], found: [Int])
    /// A buffer holds the wrong number of elements.
    case elementCountMismatch(what: String, expected: Int, found: Int)
    /// A register-like parameter is out of its hardware range.
    case invalidParameter(name: String, expected: String, found: String)
    /// The hardware profile lacks what the operation needs.
    case unsupported(unit: String, capability: String, profile: String)
    /// A reduction longer than the accumulator can hold exactly.
    case reductionTooLong(length: Int, limit: Int)
    /// `what` needs `value`, past the configured resource limit `limit` (a `DLAResourceLimits`
    /// field) of `maximum`; refused before anything was allocated.
    case limitExceeded(what: String, limit: String, value: Int, maximum: Int)

    public var description: String {
        switch self {
        case let .shapeMismatch(what, expected, found):
            "\(what): expected shape \(expected), found \(found)"
        case let .elementCountMismatch(what, expected, found):
            "\(what): expected \(expected) elements, found \(found)"
        case let .invalidParameter(name, expected, found):
            "\(name): expected \(expected), found \(found)"
        case let .unsupported(unit, capability, profile):
            "\(unit): profile \(profile) lacks \(capability)"
        case let .reductionTooLong(length, limit):
            "reduction of \(length) products exceeds the accumulator's exact limit of \(limit)"
        case let .limitExceeded(what, limit, value, maximum):
            "\(what): \(value) exceeds \(limit) = \(maximum)"
        }
    }
}

extension EngineError {
    /// Checks `value` lies in `range`, naming the parameter otherwise.
    static func require(_ name: String, _ value: Int, in range: ClosedRange<Int>) throws(EngineError) {
        guard range.contains(value) else {
            throw .invalidParameter(name: name, expected: "\(range.lowerBound)...\(range.upperBound)", found: "\(value)")
        }
    }
}
