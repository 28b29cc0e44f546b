import CDLAKernels
import Testing
@testable import DLAEngine

extension InstructionSetForcing {
    /// The C kernels against plain Swift sums, on every instruction set this CPU has.
    @Suite struct HostKernelTests {
        func referenceGEMM(m: Int, n: Int, k: Int, a: [Int8], b: [Int8]) -> [Int32] {
            var c = [Int32](repeating: 0, count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var s: Int64 = 0
                    for p in 0..<k { s += Int64(a[i * k + p]) * Int64(b[j * k + p]) }
                    c[i * n + j] = Int32(s)
                }
            }
            return c
        }

        @Test(arguments: [(1, 1, 1), (1, 300, 784), (3, 5, 63), (2, 7, 64), (5, 9, 65), (4, 4, 129), (7, 13, 1000)])
        func denseGEMMMatchesReferenceOnEveryISA(shape: (Int, Int, Int)) {
            let (m, n, k) = shape
            var random = TestRandom(seed: UInt64(m * 1_000_003 + n * 1009 + k))
            let a = random.int8s(m * k, zeros: 0.3)
            let b = random.int8s(n * k, zeros: 0.3)
            let expected = referenceGEMM(m: m, n: n, k: k, a: a, b: b)
            var sums = [Int32](repeating: 0, count: n)
            dla_s8_row_sums(Int64(n), Int64(k), b, Int64(k), &sums)
            defer { HostKernels.force(nil) }
            for isa in HostKernels.available {
                #expect(HostKernels.force(isa))
                var c = [Int32](repeating: 0, count: m * n)
                dla_gemm_s8s8s32(Int64(m), Int64(n), Int64(k), a, Int64(k), b, Int64(k), sums, &c, Int64(n))
                #expect(c == expected, "ISA \(isa)")
            }
        }

        /// The packed broadcast kernel (AVX-512 VNNI only) against the same sums, with row and
        /// channel counts off the 4-row / 16-channel / 4-byte blocking, and single rows over every
        /// count of blocks left after passes of eight (1–7, none).
        @Test(arguments: [(1, 1, 1), (1, 300, 784), (3, 17, 63), (4, 64, 64), (5, 70, 65), (9, 100, 3), (8, 33, 577), (3, 208, 100),
                          (1, 96, 40), (2, 130, 300), (1, 250, 64), (7, 240, 33), (1, 64, 9)])
        func packedVNNIGEMMMatchesReference(shape: (Int, Int, Int)) throws {
            guard HostKernels.best == .avx512VNNI else { return }
            let (m, n, k) = shape
            var random = TestRandom(seed: UInt64(m * 7 + n * 131 + k))
            let a = random.int8s(m * k, zeros: 0.2)
            let b = random.int8s(n * k, zeros: 0.2)
            var sums = [Int32](repeating: 0, count: n)
            dla_s8_row_sums(Int64(n), Int64(k), b, Int64(k), &sums)
            var packed = [Int8](repeating: 0, count: Int(dla_conv_packed_size(Int64(n), Int64(k), 1, 1)))
            dla_conv_pack_weights(Int64(n), Int64(k), 1, 1, b, &packed)
            defer { HostKernels.force(nil) }
            HostKernels.force(.avx512VNNI)
            #expect(dla_vnni_packed_available() != 0)
            var c = [Int32](repeating: -1, count: m * n)
            dla_gemm_s8_vnni_packed(Int64(m), Int64(n), Int64(k), a, Int64(k), packed, sums, &c, Int64(n))
            #expect(c == referenceGEMM(m: m, n: n, k: k, a: a, b: b))
            HostKernels.force(.avx2)
            #expect(dla_vnni_packed_available() == 0)
        }

        /// Mostly −128 (background pixels, ReLU outputs at zero point −128): whole 4-byte groups
        /// shift to 0 and the packed kernel skips them (K >= 256 and at least half the groups of the
        /// first rows background, as here except for the short K); the sums must not change.
        @Test(arguments: [(1, 300, 784), (4, 70, 400), (6, 100, 300), (5, 33, 257), (1, 10, 3), (1, 130, 300), (3, 250, 512)])
        func packedVNNIGEMMSkipsBackgroundGroupsExactly(shape: (Int, Int, Int)) throws {
            guard HostKernels.best == .avx512VNNI else { return }
            let (m, n, k) = shape
            var random = TestRandom(seed: UInt64(m * 11 + n * 17 + k))
            let a = (0..<(m * k)).map { index in
                // Runs of background (every row's first third) and scattered strokes.
                index % k < k / 3 || random.unit() < 0.9 ? Int8.min : Int8(truncatingIfNeeded: random.next())
            }
            let b = random.int8s(n * k, zeros: 0.5)
            var sums = [Int32](repeating: 0, count: n)
            dla_s8_row_sums(Int64(n), Int64(k), b, Int64(k), &sums)
            var packed = [Int8](repeating: 0, count: Int(dla_conv_packed_size(Int64(n), Int64(k), 1, 1)))
            dla_conv_pack_weights(Int64(n), Int64(k), 1, 1, b, &packed)
            defer { HostKernels.force(nil) }
            HostKernels.force(.avx512VNNI)
            var c = [Int32](repeating: -1, count: m * n)
            dla_gemm_s8_vnni_packed(Int64(m), Int64(n), Int64(k), a, Int64(k), packed, sums, &c, Int64(n))
            #expect(c == referenceGEMM(m: m, n: n, k: k, a: a, b: b))
        }

        /// All −128: the largest products; the VNNI path's +128 shift wraps int32 lanes here and must
        /// still come out exact.
        @Test func extremeValuesStayExactAtTheReductionLimit() {
            let k = Int(DLA_MAX_EXACT_K)
            let a = [Int8](repeating: -128, count: k)
            let b = [Int8](repeating: -128, count: k)
            var sums = [Int32](repeating: 0, count: 1)
            dla_s8_row_sums(1, Int64(k), b, Int64(k), &sums)
            defer { HostKernels.force(nil) }
            for isa in HostKernels.available {
                HostKernels.force(isa)
                var c: Int32 = 0
                dla_gemm_s8s8s32(1, 1, Int64(k), a, Int64(k), b, Int64(k), sums, &c, 1)
                #expect(Int64(c) == Int64(k) * 16384, "ISA \(isa)")
            }
        }

        @Test func forcingAnUnavailableISAIsRefused() {
            defer { HostKernels.force(nil) }
            if HostKernels.best != .avx512VNNI {
                #expect(!HostKernels.force(.avx512VNNI))
            }
            #expect(HostKernels.force(.portable))
            #expect(HostKernels.active == .portable)
            HostKernels.force(nil)
            #expect(HostKernels.active == HostKernels.best)
        }

        /// Every part of a parallel job runs exactly once, whether helpers or the caller claim it,
        /// also when several threads start jobs at once (all but one then run theirs inline).
        @Test func parallelPartsRunExactlyOnce() async throws {
            let counts = UnsafeMutablePointer<Int32>.allocate(capacity: 8 * 64)
            counts.initialize(repeating: 0, count: 8 * 64)
            defer { counts.deallocate() }
            let shared = UnsafeSendable(counts)
            await withTaskGroup(of: Void.self) { group in
                for caller in 0..<8 {
                    group.addTask {
                        for round in 1...50 {
                            let parts = 1 + (caller + round) % 5
                            HostKernels.parallel(parts) { part in
                                shared.value[caller * 64 + part * 8 + round % 8] += 1
                            }
                        }
                    }
                }
            }
            var expected = [Int32](repeating: 0, count: 8 * 64)
            for caller in 0..<8 {
                for round in 1...50 {
                    for part in 0..<(1 + (caller + round) % 5) { expected[caller * 64 + part * 8 + round % 8] += 1 }
                }
            }
            #expect(Array(UnsafeBufferPointer(start: counts, count: 8 * 64)) == expected)
        }
    }
}
