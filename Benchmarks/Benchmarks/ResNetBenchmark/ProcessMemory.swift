#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The process's resident set from `/proc/self/status` (Linux): current (`VmRSS`) and peak
/// (`VmHWM`), in bytes. The peak can be reset (`/proc/self/clear_refs` ← "5", Linux ≥ 4.0) so that
/// a phase's own high-water mark is measured, not the model building's before it.
enum ProcessMemory {
    static func residentBytes() -> Int? { field("VmRSS:") }
    static func peakResidentBytes() -> Int? { field("VmHWM:") }

    /// Whether the kernel accepted the reset.
    static func resetPeak() -> Bool {
        (try? Data("5".utf8).write(to: URL(fileURLWithPath: "/proc/self/clear_refs"))) != nil
    }

    /// Hands freed heap pages back to the kernel (glibc's `malloc_trim`, looked up at run time:
    /// Swift's Glibc module does not export it), so that memory freed by earlier phases does not
    /// hide the next phase's peak by being reused without ever counting. False where unavailable.
    static func releaseFreedHeap() -> Bool {
        #if canImport(Glibc)
        guard let symbol = dlsym(nil, "malloc_trim") else { return false }
        let trim = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        _ = trim(0)
        return true
        #else
        return false
        #endif
    }

    private static func field(_ name: String) -> Int? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/self/status")) else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.dropFirst(name.count).split { $0 == " " || $0 == "\t" }
            guard let value = parts.first.flatMap({ Int($0) }), parts.last == "kB" else { return nil }
            return value * 1024
        }
        return nil
    }
}
