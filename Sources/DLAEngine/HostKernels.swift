import CDLAKernels

/// The host instruction set the C kernels run on. It changes speed, never results.
public enum HostKernels {
    public enum InstructionSet: Int32, Sendable, CaseIterable, CustomStringConvertible {
        case portable = 0
        case avx2 = 1
        case avx512VNNI = 2

        public var description: String { String(cString: dla_isa_name(rawValue)) }
    }

    /// The best path this CPU supports.
    public static var best: InstructionSet { InstructionSet(rawValue: dla_kernels_best_isa()) ?? .portable }

    /// The path the kernels take now.
    public static var active: InstructionSet { InstructionSet(rawValue: dla_kernels_active_isa()) ?? .portable }

    /// Every path this CPU can run, slowest first.
    public static var available: [InstructionSet] { InstructionSet.allCases.filter { $0.rawValue <= best.rawValue } }

    /// Forces a path process-wide (tests, benchmarks); nil restores the best. Returns false if this
    /// CPU cannot run `isa`.
    @discardableResult
    public static func force(_ isa: InstructionSet?) -> Bool {
        dla_kernels_force_isa(isa?.rawValue ?? -1) == 0
    }
}
