#if canImport(Glibc)
import CMalloc

/// glibc's allocator set for a daemon that runs for months: at most two arenas. By default glibc
/// gives threads that contend for the allocator an arena each (up to eight per core), and the
/// request bodies and model files that dlad's event loops, engine workers and store threads
/// allocate and free fragment each of them on its own. Measured with the cycle of push /
/// activate / rollback / infer of Benchmarks/daemon/bench.py: RSS +23 % from cycle 500 to 3,000
/// with glibc's defaults, +6 % from 500 to 2,500 with two arenas, at the same `.npy` throughput
/// (19,700/s against 19,650/s, neither faster nor slower; medians of six alternated rounds).
/// Fixing the mmap threshold at 128 KiB held RSS as well but cost 4 µs of CPU per inference.
enum MallocPolicy {
    static func apply() {
        mallopt(M_ARENA_MAX, 2)
    }
}
#endif
