import CDLAKernels

/// The host instruction set the C kernels run on. It changes speed, never results.
public enum HostKernels {
    public enum InstructionSet: Int32, Sendable, CaseIterable, CustomStringConvertible {
        case portable = 0
        case avx2 = 1
        case avx512VNNI = 2

        public var description: String { Self.names[Int(rawValue)] }

        /// The C layer's names, read once: stats quote the instruction set on every run.
        private static let names = allCases.map { String(cString: dla_isa_name($0.rawValue)) }
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

extension HostKernels {
    /// Runs `iterations` rounds of the C peak probe (16 independent `vpdpbusd` per round) and
    /// returns the INT8 MACs it performed: 0 on CPUs without AVX-512 VNNI. Time the call to get
    /// the machine's VNNI peak, the ceiling for achieved GOPS.
    public static func vnniPeakMACs(iterations: Int) -> Int {
        Int(dla_vnni_peak_macs(Int64(iterations)))
    }
}

extension HostKernels {
    /// Runs `body` for parts 0..<parts on this thread and the C layer's helper threads
    /// (`dla_parallel_run`: helpers stay awake between an inference's operations, where waking a
    /// pooled thread per operation cost more than small halves saved). Each part must write what
    /// no other part touches.
    static func parallel(_ parts: Int, _ body: @Sendable (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var context = body
            withUnsafeMutablePointer(to: &context) { pointer in
                dla_parallel_run(Int64(parts), { context, part in
                    context.unsafelyUnwrapped.assumingMemoryBound(to: (@Sendable (Int) -> Void).self).pointee(Int(part))
                }, pointer)
            }
        }
    }
}
