import DLAEngine
import NVDLALoadable

/// What running a loadable at the memory level rejects; each case names the operation or field.
public enum NVDLARuntimeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A descriptor could not be decoded.
    case descriptor(FirmwareDescriptorError)
    /// A unit rejected its parameters (the engine's message).
    case engine(operation: String, EngineError)
    /// An access outside a memory, or to an address the task does not have.
    case outOfBounds(what: String, detail: String)
    /// A descriptor asks for what the firmware would refuse.
    case invalid(what: String, detail: String)
    /// Valid on NVDLA, not modelled here.
    case unsupported(what: String)

    public var description: String {
        switch self {
        case let .descriptor(error): "firmware descriptor: \(error)"
        case let .engine(operation, error): "\(operation): \(error)"
        case let .outOfBounds(what, detail): "\(what): out of bounds: \(detail)"
        case let .invalid(what, detail): "\(what): \(detail)"
        case let .unsupported(what): "not modelled: \(what)"
        }
    }
}
