#if canImport(Glibc)
import CMalloc

/// glibc's allocator set for a daemon that runs for months: at most two arenas. By default glibc
/// gives threads that contend for the allocator an arena each (up to eight per core), and the
/// request bodies and model files that dlad's event loops, engine workers and store threads
/// allocate and free fragment each of them on its own. Measured with 2,500 cycles of push /
/// activate / rollback / infer (the cycle of Benchmarks/daemon/bench.py): RSS +23 % with glibc's
/// defaults, +3 % with two arenas, at the same `.npy` throughput (19,700/s against 19,650/s,
/// medians of six alternated rounds). Fixing the mmap threshold at 128 KiB held RSS as well but
/// cost 4 µs of CPU per inference.
enum MallocPolicy {
    static func apply() {
        mallopt(M_ARENA_MAX, 2)
    }
}
#endif
