// INT8 kernels with run-time dispatch. The x86 paths are compiled per function with
// __attribute__((target(...))) so the file builds for generic x86-64, and they are guarded by
// __x86_64__ so other architectures (aarch64) build the portable path unchanged.
#include "CDLAKernels.h"

#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// MARK: - Dispatch

static int detect_best_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vnni")) {
        return DLA_ISA_AVX512_VNNI;
    }
    if (__builtin_cpu_supports("avx2")) {
        return DLA_ISA_AVX2;
    }
#endif
    return DLA_ISA_PORTABLE;
}

/// -1 until first use; then the path in force. Written with relaxed atomics: every writer of the
/// lazy default stores the same value.
static int active_isa = -1;

int dla_kernels_best_isa(void) {
    static int best = -1;
    int cached = __atomic_load_n(&best, __ATOMIC_RELAXED);
    if (cached < 0) {
        cached = detect_best_isa();
        __atomic_store_n(&best, cached, __ATOMIC_RELAXED);
    }
    return cached;
}

int dla_kernels_active_isa(void) {
    int isa = __atomic_load_n(&active_isa, __ATOMIC_RELAXED);
    if (isa < 0) {
        isa = dla_kernels_best_isa();
        __atomic_store_n(&active_isa, isa, __ATOMIC_RELAXED);
    }
    return isa;
}

int dla_kernels_force_isa(int isa) {
    if (isa < 0) {
        __atomic_store_n(&active_isa, dla_kernels_best_isa(), __ATOMIC_RELAXED);
        return 0;
    }
    if (isa > dla_kernels_best_isa()) {
        return -1;
    }
    __atomic_store_n(&active_isa, isa, __ATOMIC_RELAXED);
    return 0;
}

const char *dla_isa_name(int isa) {
    switch (isa) {
    case DLA_ISA_AVX512_VNNI: return "avx512vnni";
    case DLA_ISA_AVX2: return "avx2";
    default: return "portable";
    }
}

// MARK: - Row sums

void dla_s8_row_sums(int64_t n, int64_t k, const int8_t *b, int64_t ldb, int32_t *sums) {
    for (int64_t j = 0; j < n; j++) {
        const int8_t *row = b + j * ldb;
        int32_t s = 0;
        for (int64_t p = 0; p < k; p++) {
            s += row[p];
        }
        sums[j] = s;
    }
}

// MARK: - Dense GEMM

static void gemm_portable(int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda,
                          const int8_t *b, int64_t ldb, int32_t *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        const int8_t *ar = a + i * lda;
        for (int64_t j = 0; j < n; j++) {
            const int8_t *br = b + j * ldb;
            int32_t s = 0;
            for (int64_t p = 0; p < k; p++) {
                s += (int32_t)ar[p] * (int32_t)br[p];
            }
            c[i * ldc + j] = s;
        }
    }
}

#if defined(__x86_64__)

__attribute__((target("avx2"))) static inline int32_t hsum_avx2(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/// AVX2: sign-extend 16 bytes to int16 and multiply-add pairs into int32 with vpmaddwd, which is
/// exact (|pair sum| <= 2^15). vpmaddubsw is avoided on purpose: it saturates at int16.
__attribute__((target("avx2"))) static void gemm_avx2(int64_t m, int64_t n, int64_t k,
                                                      const int8_t *a, int64_t lda,
                                                      const int8_t *b, int64_t ldb,
                                                      int32_t *c, int64_t ldc) {
    const int64_t k16 = k & ~(int64_t)15;
    for (int64_t i = 0; i < m; i++) {
        const int8_t *ar = a + i * lda;
        int64_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const int8_t *b0 = b + (j + 0) * ldb, *b1 = b + (j + 1) * ldb;
            const int8_t *b2 = b + (j + 2) * ldb, *b3 = b + (j + 3) * ldb;
            __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
            __m256i acc2 = _mm256_setzero_si256(), acc3 = _mm256_setzero_si256();
            for (int64_t p = 0; p < k16; p += 16) {
                __m256i av = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(ar + p)));
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(av, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b0 + p)))));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(av, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b1 + p)))));
                acc2 = _mm256_add_epi32(acc2, _mm256_madd_epi16(av, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b2 + p)))));
                acc3 = _mm256_add_epi32(acc3, _mm256_madd_epi16(av, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b3 + p)))));
            }
            int32_t s0 = hsum_avx2(acc0), s1 = hsum_avx2(acc1), s2 = hsum_avx2(acc2), s3 = hsum_avx2(acc3);
            for (int64_t p = k16; p < k; p++) {
                int32_t x = ar[p];
                s0 += x * b0[p]; s1 += x * b1[p]; s2 += x * b2[p]; s3 += x * b3[p];
            }
            int32_t *cr = c + i * ldc + j;
            cr[0] = s0; cr[1] = s1; cr[2] = s2; cr[3] = s3;
        }
        for (; j < n; j++) {
            const int8_t *br = b + j * ldb;
            __m256i acc = _mm256_setzero_si256();
            for (int64_t p = 0; p < k16; p += 16) {
                __m256i av = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(ar + p)));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(av, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(br + p)))));
            }
            int32_t s = hsum_avx2(acc);
            for (int64_t p = k16; p < k; p++) {
                s += (int32_t)ar[p] * br[p];
            }
            c[i * ldc + j] = s;
        }
    }
}

#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

VNNI_TARGET static inline __mmask64 tail_mask(int64_t remaining) {
    return remaining >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << remaining) - 1);
}

/// Σ(a+128)·w in wrapping int32 lanes, then − 128·Σw. Wrap-around cancels exactly because the true
/// result fits in int32 (k <= DLA_MAX_EXACT_K). Masked-off lanes load a = 0 -> 0x80 and w = 0, so
/// they contribute nothing.
VNNI_TARGET static inline int32_t vnni_finish(__m512i acc, int32_t row_sum) {
    uint32_t raw = (uint32_t)_mm512_reduce_add_epi32(acc);
    return (int32_t)(raw - ((uint32_t)row_sum << 7));
}

VNNI_TARGET static void gemm_vnni(int64_t m, int64_t n, int64_t k,
                                  const int8_t *a, int64_t lda,
                                  const int8_t *b, int64_t ldb, const int32_t *sums,
                                  int32_t *c, int64_t ldc) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    int64_t i = 0;
    // 2 activation rows x 4 weight rows: each weight load feeds two dot products.
    for (; i + 2 <= m; i += 2) {
        const int8_t *a0 = a + i * lda, *a1 = a0 + lda;
        int64_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const int8_t *b0 = b + (j + 0) * ldb, *b1 = b + (j + 1) * ldb;
            const int8_t *b2 = b + (j + 2) * ldb, *b3 = b + (j + 3) * ldb;
            __m512i c00 = _mm512_setzero_si512(), c01 = _mm512_setzero_si512();
            __m512i c02 = _mm512_setzero_si512(), c03 = _mm512_setzero_si512();
            __m512i c10 = _mm512_setzero_si512(), c11 = _mm512_setzero_si512();
            __m512i c12 = _mm512_setzero_si512(), c13 = _mm512_setzero_si512();
            for (int64_t p = 0; p < k; p += 64) {
                __mmask64 mk = tail_mask(k - p);
                __m512i x0 = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, a0 + p), flip);
                __m512i x1 = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, a1 + p), flip);
                __m512i w0 = _mm512_maskz_loadu_epi8(mk, b0 + p);
                __m512i w1 = _mm512_maskz_loadu_epi8(mk, b1 + p);
                __m512i w2 = _mm512_maskz_loadu_epi8(mk, b2 + p);
                __m512i w3 = _mm512_maskz_loadu_epi8(mk, b3 + p);
                c00 = _mm512_dpbusd_epi32(c00, x0, w0); c10 = _mm512_dpbusd_epi32(c10, x1, w0);
                c01 = _mm512_dpbusd_epi32(c01, x0, w1); c11 = _mm512_dpbusd_epi32(c11, x1, w1);
                c02 = _mm512_dpbusd_epi32(c02, x0, w2); c12 = _mm512_dpbusd_epi32(c12, x1, w2);
                c03 = _mm512_dpbusd_epi32(c03, x0, w3); c13 = _mm512_dpbusd_epi32(c13, x1, w3);
            }
            int32_t *r0 = c + i * ldc + j, *r1 = r0 + ldc;
            r0[0] = vnni_finish(c00, sums[j]); r0[1] = vnni_finish(c01, sums[j + 1]);
            r0[2] = vnni_finish(c02, sums[j + 2]); r0[3] = vnni_finish(c03, sums[j + 3]);
            r1[0] = vnni_finish(c10, sums[j]); r1[1] = vnni_finish(c11, sums[j + 1]);
            r1[2] = vnni_finish(c12, sums[j + 2]); r1[3] = vnni_finish(c13, sums[j + 3]);
        }
        for (; j < n; j++) {
            const int8_t *bj = b + j * ldb;
            __m512i c0 = _mm512_setzero_si512(), c1 = _mm512_setzero_si512();
            for (int64_t p = 0; p < k; p += 64) {
                __mmask64 mk = tail_mask(k - p);
                __m512i w = _mm512_maskz_loadu_epi8(mk, bj + p);
                c0 = _mm512_dpbusd_epi32(c0, _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, a0 + p), flip), w);
                c1 = _mm512_dpbusd_epi32(c1, _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, a1 + p), flip), w);
            }
            c[i * ldc + j] = vnni_finish(c0, sums[j]);
            c[(i + 1) * ldc + j] = vnni_finish(c1, sums[j]);
        }
    }
    for (; i < m; i++) {
        const int8_t *a0 = a + i * lda;
        int64_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const int8_t *b0 = b + (j + 0) * ldb, *b1 = b + (j + 1) * ldb;
            const int8_t *b2 = b + (j + 2) * ldb, *b3 = b + (j + 3) * ldb;
            __m512i c0 = _mm512_setzero_si512(), c1 = _mm512_setzero_si512();
            __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
            for (int64_t p = 0; p < k; p += 64) {
                __mmask64 mk = tail_mask(k - p);
                __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, a0 + p), flip);
                c0 = _mm512_dpbusd_epi32(c0, x, _mm512_maskz_loadu_epi8(mk, b0 + p));
                c1 = _mm512_dpbusd_epi32(c1, x, _mm512_maskz_loadu_epi8(mk, b1 + p));
                c2 = _mm512_dpbusd_epi32(c2, x, _mm512_maskz_loadu_epi8(mk, b2 + p));
                c3 = _mm512_dpbusd_epi32(c3, x, _mm512_maskz_loadu_epi8(mk, b3 + p));
            }
            int32_t *r = c + i * ldc + j;
            r[0] = vnni_finish(c0, sums[j]); r[1] = vnni_finish(c1, sums[j + 1]);
            r[2] = vnni_finish(c2, sums[j + 2]); r[3] = vnni_finish(c3, sums[j + 3]);
        }
        for (; j < n; j++) {
            const int8_t *bj = b + j * ldb;
            __m512i c0 = _mm512_setzero_si512();
            for (int64_t p = 0; p < k; p += 64) {
                __mmask64 mk = tail_mask(k - p);
                c0 = _mm512_dpbusd_epi32(c0, _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, a0 + p), flip),
                                         _mm512_maskz_loadu_epi8(mk, bj + p));
            }
            c[i * ldc + j] = vnni_finish(c0, sums[j]);
        }
    }
}

#endif // __x86_64__

void dla_gemm_s8s8s32(int64_t m, int64_t n, int64_t k,
                      const int8_t *a, int64_t lda,
                      const int8_t *b, int64_t ldb, const int32_t *b_row_sums,
                      int32_t *c, int64_t ldc) {
    if (m <= 0 || n <= 0) {
        return;
    }
#if defined(__x86_64__)
    switch (dla_kernels_active_isa()) {
    case DLA_ISA_AVX512_VNNI:
        gemm_vnni(m, n, k, a, lda, b, ldb, b_row_sums, c, ldc);
        return;
    case DLA_ISA_AVX2:
        gemm_avx2(m, n, k, a, lda, b, ldb, c, ldc);
        return;
    default:
        break;
    }
#else
    (void)b_row_sums;
#endif
    gemm_portable(m, n, k, a, lda, b, ldb, c, ldc);
}

// MARK: - VNNI on packed weights

int dla_vnni_packed_available(void) {
    return dla_kernels_active_isa() == DLA_ISA_AVX512_VNNI;
}

#if defined(__x86_64__)
/// The activation row's 4-byte group `g`, shifted by +128 (as unsigned bytes) and broadcast;
/// bytes past the end of the row count as activation 0 (their weights are packed as 0 anyway).
VNNI_TARGET static inline __m512i broadcast_group(const int8_t *row, int64_t g, int64_t k) {
    uint32_t word;
    if (g * 4 + 4 <= k) {
        __builtin_memcpy(&word, row + g * 4, 4);
    } else {
        uint8_t bytes[4] = {0, 0, 0, 0};
        for (int64_t q = 0; g * 4 + q < k; q++) {
            bytes[q] = (uint8_t)row[g * 4 + q];
        }
        __builtin_memcpy(&word, bytes, 4);
    }
    return _mm512_set1_epi32((int)(word ^ 0x80808080u));
}

/// Stores `acc − 128·Σw` for the (up to 16) valid channels of a block.
VNNI_TARGET static inline void store_block(int32_t *c, __m512i acc, const int32_t *sums, int64_t valid) {
    const __mmask16 mask = valid >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1);
    const __m512i correction = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(mask, sums), 7);
    _mm512_mask_storeu_epi32(c, mask, _mm512_sub_epi32(acc, correction));
}

/// Activation rows shifted by +128 (as unsigned bytes) into `scratch`, `padded` bytes per row, the
/// padding 0 (its weights are packed as 0): the kernel then broadcasts straight from memory.
VNNI_TARGET static void flip_rows(const int8_t *a, int64_t lda, int64_t rows, int64_t k, int64_t padded, int8_t *scratch) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int64_t r = 0; r < rows; r++) {
        const int8_t *source = a + r * lda;
        int8_t *target = scratch + r * padded;
        for (int64_t p = 0; p < k; p += 64) {
            const __mmask64 mk = tail_mask(k - p);
            _mm512_mask_storeu_epi8(target + p, mk, _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, source + p), flip));
        }
        for (int64_t p = k; p < padded; p++) {
            target[p] = 0;
        }
    }
}

/// Lists the groups (4 bytes) in which any of `rows` shifted rows is nonzero; returns their count.
VNNI_TARGET static int64_t active_groups(const int8_t *scratch, int64_t rows, int64_t padded, int32_t *active) {
    int64_t count = 0;
    for (int64_t g = 0; g < padded / 4; g++) {
        uint32_t any = 0;
        for (int64_t r = 0; r < rows; r++) {
            uint32_t word;
            __builtin_memcpy(&word, scratch + r * padded + g * 4, 4);
            any |= word;
        }
        if (any != 0) {
            active[count++] = (int32_t)g;
        }
    }
    return count;
}

/// Group `g` of a row: already shifted (`flipped`, from flip_rows) or shifted here.
VNNI_TARGET static inline __m512i broadcast_row_group(const int8_t *row, int64_t g, int64_t k, int flipped) {
    if (flipped) {
        uint32_t word;
        __builtin_memcpy(&word, row + g * 4, 4);
        return _mm512_set1_epi32((int)word);
    }
    return broadcast_group(row, g, k);
}

/// One activation row against `nb` (1–8, a constant after inlining) consecutive 16-channel
/// blocks at `w`, one accumulator per block: a single row (batch 1) then runs at vpdpbusd's
/// throughput instead of waiting on one accumulator's latency, and each broadcast feeds `nb`
/// blocks. `valid` channels remain from the first block's first channel.
VNNI_TARGET static inline __attribute__((always_inline)) void row_blocks(
    int nb, const int8_t *a0, int64_t k, int flipped, int skipping, const int32_t *active, int64_t steps, int64_t groups,
    const int8_t *w, const int32_t *sums, int32_t *c, int64_t valid) {
    __m512i acc[8];
    for (int b = 0; b < nb; b++) acc[b] = _mm512_setzero_si512();
    for (int64_t q = 0; q < steps; q++) {
        const int64_t g = skipping ? active[q] : q;
        const __m512i x = broadcast_row_group(a0, g, k, flipped);
        for (int b = 0; b < nb; b++) acc[b] = _mm512_dpbusd_epi32(acc[b], x, _mm512_loadu_si512(w + (b * groups + g) * 64));
    }
    for (int b = 0; b < nb; b++) store_block(c + b * 16, acc[b], sums + b * 16, valid - b * 16);
}

/// The kernel; with `scratch` (room for 4 rows of whole groups) each block of rows is shifted once
/// instead of at every broadcast. Always inlined with a constant `flipped`, so each caller gets
/// its own branch-free copy.
VNNI_TARGET static inline __attribute__((always_inline)) void gemm_vnni_packed_body(
    int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda, const int8_t *packed, const int32_t *sums,
    int32_t *c, int64_t ldc, int flipped, int skipping, int8_t *scratch) {
    const int64_t groups = (k + 3) / 4;
    const int64_t blocks = (n + 15) / 16;
    const int64_t padded = groups * 4;
    // With `skipping`, groups whose shifted bytes are all 0 (activations of −128: background
    // pixels, ReLU outputs at zero point −128) add exactly 0 and are skipped; `live` of them
    // remain, listed in `active`.
    int32_t *active = skipping ? (int32_t *)(scratch + 4 * padded) : NULL;
    int64_t live = groups;
    int64_t i = 0;
    // Four activation rows × four 16-channel blocks: 16 accumulators, each weight load feeds 4 rows.
    for (; i + 4 <= m; i += 4) {
        const int8_t *a0 = a + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
        if (flipped) {
            flip_rows(a0, lda, 4, k, padded, scratch);
            a0 = scratch; a1 = scratch + padded; a2 = a1 + padded; a3 = a2 + padded;
            if (skipping) {
                live = active_groups(scratch, 4, padded, active);
            }
        }
        int64_t block = 0;
        for (; block + 4 <= blocks; block += 4) {
            __m512i acc[4][4];
            for (int r = 0; r < 4; r++) for (int b = 0; b < 4; b++) acc[r][b] = _mm512_setzero_si512();
            const int8_t *w = packed + block * groups * 64;
            for (int64_t q = 0; q < (skipping ? live : groups); q++) {
                const int64_t g = skipping ? active[q] : q;
                const __m512i w0 = _mm512_loadu_si512(w + (0 * groups + g) * 64);
                const __m512i w1 = _mm512_loadu_si512(w + (1 * groups + g) * 64);
                const __m512i w2 = _mm512_loadu_si512(w + (2 * groups + g) * 64);
                const __m512i w3 = _mm512_loadu_si512(w + (3 * groups + g) * 64);
                const __m512i x0 = broadcast_row_group(a0, g, k, flipped), x1 = broadcast_row_group(a1, g, k, flipped);
                const __m512i x2 = broadcast_row_group(a2, g, k, flipped), x3 = broadcast_row_group(a3, g, k, flipped);
                acc[0][0] = _mm512_dpbusd_epi32(acc[0][0], x0, w0); acc[0][1] = _mm512_dpbusd_epi32(acc[0][1], x0, w1);
                acc[0][2] = _mm512_dpbusd_epi32(acc[0][2], x0, w2); acc[0][3] = _mm512_dpbusd_epi32(acc[0][3], x0, w3);
                acc[1][0] = _mm512_dpbusd_epi32(acc[1][0], x1, w0); acc[1][1] = _mm512_dpbusd_epi32(acc[1][1], x1, w1);
                acc[1][2] = _mm512_dpbusd_epi32(acc[1][2], x1, w2); acc[1][3] = _mm512_dpbusd_epi32(acc[1][3], x1, w3);
                acc[2][0] = _mm512_dpbusd_epi32(acc[2][0], x2, w0); acc[2][1] = _mm512_dpbusd_epi32(acc[2][1], x2, w1);
                acc[2][2] = _mm512_dpbusd_epi32(acc[2][2], x2, w2); acc[2][3] = _mm512_dpbusd_epi32(acc[2][3], x2, w3);
                acc[3][0] = _mm512_dpbusd_epi32(acc[3][0], x3, w0); acc[3][1] = _mm512_dpbusd_epi32(acc[3][1], x3, w1);
                acc[3][2] = _mm512_dpbusd_epi32(acc[3][2], x3, w2); acc[3][3] = _mm512_dpbusd_epi32(acc[3][3], x3, w3);
            }
            for (int r = 0; r < 4; r++) {
                for (int b = 0; b < 4; b++) {
                    const int64_t first = (block + b) * 16;
                    store_block(c + (i + r) * ldc + first, acc[r][b], sums + first, n - first);
                }
            }
        }
        for (; block < blocks; block++) {
            __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
            __m512i acc2 = _mm512_setzero_si512(), acc3 = _mm512_setzero_si512();
            const int8_t *w = packed + block * groups * 64;
            for (int64_t q = 0; q < (skipping ? live : groups); q++) {
                const int64_t g = skipping ? active[q] : q;
                const __m512i wv = _mm512_loadu_si512(w + g * 64);
                acc0 = _mm512_dpbusd_epi32(acc0, broadcast_row_group(a0, g, k, flipped), wv);
                acc1 = _mm512_dpbusd_epi32(acc1, broadcast_row_group(a1, g, k, flipped), wv);
                acc2 = _mm512_dpbusd_epi32(acc2, broadcast_row_group(a2, g, k, flipped), wv);
                acc3 = _mm512_dpbusd_epi32(acc3, broadcast_row_group(a3, g, k, flipped), wv);
            }
            const int64_t first = block * 16;
            store_block(c + (i + 0) * ldc + first, acc0, sums + first, n - first);
            store_block(c + (i + 1) * ldc + first, acc1, sums + first, n - first);
            store_block(c + (i + 2) * ldc + first, acc2, sums + first, n - first);
            store_block(c + (i + 3) * ldc + first, acc3, sums + first, n - first);
        }
    }
    // Remaining rows one at a time, up to eight blocks per pass (one accumulator each).
    for (; i < m; i++) {
        const int8_t *a0 = a + i * lda;
        if (flipped) {
            flip_rows(a0, lda, 1, k, padded, scratch);
            a0 = scratch;
            if (skipping) {
                live = active_groups(scratch, 1, padded, active);
            }
        }
        const int64_t steps = skipping ? live : groups;
        int32_t *row = c + i * ldc;
        int64_t block = 0;
        for (; block + 8 <= blocks; block += 8) {
            row_blocks(8, a0, k, flipped, skipping, active, steps, groups, packed + block * groups * 64, sums + block * 16,
                       row + block * 16, n - block * 16);
        }
        switch (blocks - block) {
        case 7: row_blocks(7, a0, k, flipped, skipping, active, steps, groups, packed + block * groups * 64, sums + block * 16, row + block * 16, n - block * 16); break;
        case 6: row_blocks(6, a0, k, flipped, skipping, active, steps, groups, packed + block * groups * 64, sums + block * 16, row + block * 16, n - block * 16); break;
        case 5: row_blocks(5, a0, k, flipped, skipping, active, steps, groups, packed + block * groups * 64, sums + block * 16, row + block * 16, n - block * 16); break;
        case 4: row_blocks(4, a0, k, flipped, skipping, active, steps, groups, packed + block * groups * 64, sums + block * 16, row + block * 16, n - block * 16); break;
        case 3: row_blocks(3, a0, k, flipped, skipping, active, steps, groups, packed + block * groups * 64, sums + block * 16, row + block * 16, n - block * 16); break;
        case 2: row_blocks(2, a0, k, flipped, skipping, active, steps, groups, packed + block * groups * 64, sums + block * 16, row + block * 16, n - block * 16); break;
        case 1: row_blocks(1, a0, k, flipped, skipping, active, steps, groups, packed + block * groups * 64, sums + block * 16, row + block * 16, n - block * 16); break;
        default: break;
        }
    }
}
/// Whether listing live groups pays: reductions of at least 256 (below, as in a 5×5 convolution's
/// 25, the scan costs more than the skipped groups) whose first rows (up to four, a sample) have
/// at least half their 4-byte groups all −128. Measured: MNIST images yes; ReLU layers with half
/// their values at the zero point no (their groups are rarely all background).
VNNI_TARGET static int worth_skipping(int64_t m, int64_t k, const int8_t *a, int64_t lda) {
    if (k < 256) {
        return 0;
    }
    const int64_t rows = m < 4 ? m : 4;
    int64_t background = 0;
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t p = 0; p + 4 <= k; p += 4) {
            uint32_t word;
            __builtin_memcpy(&word, a + i * lda + p, 4);
            background += word == 0x80808080u;
        }
    }
    return background * 2 >= rows * (k / 4);
}

/// The kernel's three variants, each compiled on its own: the plain one's tight loops (a 5×5
/// convolution has 7 groups) lose speed when the skipping variant shares their function.
__attribute__((noinline)) VNNI_TARGET static void gemm_vnni_packed_plain(int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda,
                                                                         const int8_t *packed, const int32_t *sums, int32_t *c, int64_t ldc,
                                                                         int8_t *scratch) {
    gemm_vnni_packed_body(m, n, k, a, lda, packed, sums, c, ldc, 1, 0, scratch);
}

__attribute__((noinline)) VNNI_TARGET static void gemm_vnni_packed_skipping(int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda,
                                                                            const int8_t *packed, const int32_t *sums, int32_t *c,
                                                                            int64_t ldc, int8_t *scratch) {
    gemm_vnni_packed_body(m, n, k, a, lda, packed, sums, c, ldc, 1, 1, scratch);
}

__attribute__((noinline)) VNNI_TARGET static void gemm_vnni_packed_unshifted(int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda,
                                                                             const int8_t *packed, const int32_t *sums, int32_t *c,
                                                                             int64_t ldc) {
    gemm_vnni_packed_body(m, n, k, a, lda, packed, sums, c, ldc, 0, 0, NULL);
}

VNNI_TARGET static void gemm_vnni_packed(int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda,
                                         const int8_t *packed, const int32_t *sums, int32_t *c, int64_t ldc) {
    // Four shifted rows, then the list of their live groups.
    int8_t *scratch = malloc((size_t)(4 * ((k + 3) / 4) * 4 + ((k + 3) / 4) * 4));
    if (!scratch) {
        gemm_vnni_packed_unshifted(m, n, k, a, lda, packed, sums, c, ldc);
        return;
    }
    if (worth_skipping(m, k, a, lda)) {
        gemm_vnni_packed_skipping(m, n, k, a, lda, packed, sums, c, ldc, scratch);
    } else {
        gemm_vnni_packed_plain(m, n, k, a, lda, packed, sums, c, ldc, scratch);
    }
    free(scratch);
}
#endif

void dla_gemm_s8_vnni_packed(int64_t m, int64_t n, int64_t k,
                             const int8_t *a, int64_t lda,
                             const int8_t *packed, const int32_t *b_row_sums,
                             int32_t *c, int64_t ldc) {
#if defined(__x86_64__)
    // Checked against the CPU, not the active path: another thread may force a different path
    // between the caller's dla_vnni_packed_available() and this call; every path gives the same
    // result, so running the packed kernel then is still exact.
    if (m > 0 && n > 0 && dla_kernels_best_isa() == DLA_ISA_AVX512_VNNI) {
        gemm_vnni_packed(m, n, k, a, lda, packed, b_row_sums, c, ldc);
    }
#else
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)b_row_sums; (void)c; (void)ldc;
#endif
}

// MARK: - im2col

/// Copies `n` bytes in fixed-size pieces the compiler inlines: kernel rows are short (LeNet: 5
/// bytes), where a call to memcpy costs more than the copy.
static inline void copy_short(int8_t *dst, const int8_t *src, int64_t n) {
    while (n >= 8) {
        __builtin_memcpy(dst, src, 8);
        dst += 8; src += 8; n -= 8;
    }
    if (n >= 4) {
        __builtin_memcpy(dst, src, 4);
        dst += 4; src += 4; n -= 4;
    }
    while (n > 0) {
        *dst++ = *src++;
        n--;
    }
}

/// One kernel row (kw bytes at stride_x) for every pixel of an output row, when no tap is padding.
static inline __attribute__((always_inline)) void im2col_row_run(int64_t out_width, int64_t stride_x, int64_t kw, int64_t k,
                                                                 const int8_t *line, int8_t *target) {
    for (int64_t ox = 0; ox < out_width; ox++) {
        copy_short(target + ox * k, line + ox * stride_x, kw);
    }
}

/// im2col without padding or dilation: every window lies inside the input, so rows are copied run
/// by run (output row × channel × kernel row) with the bounds checked once; common kernel widths
/// get their copy unrolled.
static void im2col_unpadded(int64_t channels, int64_t height, int64_t width, int64_t kh, int64_t kw,
                            int64_t stride_y, int64_t stride_x, int64_t out_height, int64_t out_width,
                            const int8_t *input, int8_t *rows) {
    const int64_t k = channels * kh * kw;
    for (int64_t oy = 0; oy < out_height; oy++) {
        int8_t *base = rows + oy * out_width * k;
        for (int64_t c = 0; c < channels; c++) {
            for (int64_t r = 0; r < kh; r++) {
                const int8_t *line = input + (c * height + oy * stride_y + r) * width;
                int8_t *target = base + (c * kh + r) * kw;
                switch (kw) {
                case 3: im2col_row_run(out_width, stride_x, 3, k, line, target); break;
                case 5: im2col_row_run(out_width, stride_x, 5, k, line, target); break;
                case 7: im2col_row_run(out_width, stride_x, 7, k, line, target); break;
                default: im2col_row_run(out_width, stride_x, kw, k, line, target); break;
                }
            }
        }
    }
}

void dla_im2col_s8(int64_t channels, int64_t height, int64_t width,
                   int64_t kh, int64_t kw, int64_t stride_y, int64_t stride_x,
                   int64_t pad_top, int64_t pad_left, int64_t dilation_y, int64_t dilation_x,
                   int64_t out_height, int64_t out_width, int8_t pad_value,
                   const int8_t *input, int8_t *rows) {
    if (pad_top == 0 && pad_left == 0 && dilation_y == 1 && dilation_x == 1 && out_height > 0 && out_width > 0
        && (out_height - 1) * stride_y + kh <= height && (out_width - 1) * stride_x + kw <= width) {
        im2col_unpadded(channels, height, width, kh, kw, stride_y, stride_x, out_height, out_width, input, rows);
        return;
    }
    const int64_t k = channels * kh * kw;
    for (int64_t oy = 0; oy < out_height; oy++) {
        for (int64_t ox = 0; ox < out_width; ox++) {
            int8_t *row = rows + (oy * out_width + ox) * k;
            for (int64_t c = 0; c < channels; c++) {
                const int8_t *plane = input + c * height * width;
                for (int64_t r = 0; r < kh; r++) {
                    const int64_t iy = oy * stride_y - pad_top + r * dilation_y;
                    if (iy < 0 || iy >= height) {
                        for (int64_t s = 0; s < kw; s++) {
                            *row++ = pad_value;
                        }
                        continue;
                    }
                    const int8_t *line = plane + iy * width;
                    const int64_t x0 = ox * stride_x - pad_left;
                    if (dilation_x == 1 && x0 >= 0 && x0 + kw <= width) {
                        copy_short(row, line + x0, kw);
                        row += kw;
                        continue;
                    }
                    for (int64_t s = 0; s < kw; s++) {
                        const int64_t ix = ox * stride_x - pad_left + s * dilation_x;
                        *row++ = (ix >= 0 && ix < width) ? line[ix] : pad_value;
                    }
                }
            }
        }
    }
}

// MARK: - Direct convolution (implicit GEMM)

int64_t dla_conv_packed_size(int64_t n, int64_t channels, int64_t kh, int64_t kw) {
    return ((n + 15) / 16) * 16 * kh * kw * ((channels + 3) / 4) * 4;
}

/// Byte of block-packed weight (output channel j, input channel c, tap t) in the packed layout.
static inline int64_t conv_packed_index(int64_t j, int64_t c, int64_t t, int64_t taps, int64_t channel_groups) {
    const int64_t groups = taps * channel_groups;
    return ((j / 16) * groups + t * channel_groups + c / 4) * 64 + (j % 16) * 4 + c % 4;
}

void dla_conv_pack_weights(int64_t n, int64_t channels, int64_t kh, int64_t kw, const int8_t *weights, int8_t *packed) {
    const int64_t taps = kh * kw, channel_groups = (channels + 3) / 4, size = dla_conv_packed_size(n, channels, kh, kw);
    for (int64_t i = 0; i < size; i++) {
        packed[i] = 0;
    }
    for (int64_t j = 0; j < n; j++) {
        for (int64_t c = 0; c < channels; c++) {
            for (int64_t t = 0; t < taps; t++) {
                packed[conv_packed_index(j, c, t, taps, channel_groups)] = weights[(j * channels + c) * taps + t];
            }
        }
    }
}

void dla_conv_unpack_weights(int64_t n, int64_t channels, int64_t kh, int64_t kw, const int8_t *packed, int8_t *weights) {
    const int64_t taps = kh * kw, channel_groups = (channels + 3) / 4;
    for (int64_t j = 0; j < n; j++) {
        for (int64_t c = 0; c < channels; c++) {
            for (int64_t t = 0; t < taps; t++) {
                weights[(j * channels + c) * taps + t] = packed[conv_packed_index(j, c, t, taps, channel_groups)];
            }
        }
    }
}

#if defined(__x86_64__)
/// 16 channels (rows `plane_stride` apart) × 16 pixels of `source` to 16 pixels × 16 channels at
/// `target` (pixels `pixel_stride` apart), each byte XOR 0x80; four rounds of SSE2 unpacks.
static inline void transpose_16x16_flip(const int8_t *source, int64_t plane_stride, uint8_t *target, int64_t pixel_stride) {
    __m128i a[16], b[16];
    for (int i = 0; i < 16; i++) a[i] = _mm_loadu_si128((const __m128i *)(source + i * plane_stride));
    // Round 1: channel pairs (2 bytes per pixel); b[2j] pixels 0–7, b[2j + 1] pixels 8–15.
    for (int j = 0; j < 8; j++) {
        b[2 * j] = _mm_unpacklo_epi8(a[2 * j], a[2 * j + 1]);
        b[2 * j + 1] = _mm_unpackhi_epi8(a[2 * j], a[2 * j + 1]);
    }
    // Round 2: channel quads; a[4m + q] holds pixels 4q…4q + 3 of channels 4m…4m + 3.
    for (int m = 0; m < 4; m++) {
        for (int h = 0; h < 2; h++) {
            a[4 * m + 2 * h] = _mm_unpacklo_epi16(b[4 * m + h], b[4 * m + 2 + h]);
            a[4 * m + 2 * h + 1] = _mm_unpackhi_epi16(b[4 * m + h], b[4 * m + 2 + h]);
        }
    }
    // Round 3: channel octets; b[8n + t] holds pixels 2t, 2t + 1 of channels 8n…8n + 7.
    for (int n = 0; n < 2; n++) {
        for (int q = 0; q < 4; q++) {
            b[8 * n + 2 * q] = _mm_unpacklo_epi32(a[8 * n + q], a[8 * n + 4 + q]);
            b[8 * n + 2 * q + 1] = _mm_unpackhi_epi32(a[8 * n + q], a[8 * n + 4 + q]);
        }
    }
    // Round 4: all 16 channels of one pixel.
    const __m128i flip = _mm_set1_epi8((char)0x80);
    for (int t = 0; t < 8; t++) {
        _mm_storeu_si128((__m128i *)(target + (2 * t) * pixel_stride), _mm_xor_si128(_mm_unpacklo_epi64(b[t], b[8 + t]), flip));
        _mm_storeu_si128((__m128i *)(target + (2 * t + 1) * pixel_stride), _mm_xor_si128(_mm_unpackhi_epi64(b[t], b[8 + t]), flip));
    }
}
#endif

/// One input row (y inside the input) into prepared pixels [px0, px1): channel c of pixel x is
/// input[(c·H + y)·W + x]; padded columns take `pad`, padding channels 0.
static void prepare_row(int64_t channels, int64_t height, int64_t width, int64_t y, int64_t pad_left, int64_t padded_width,
                        int64_t channels_padded, uint8_t pad, const int8_t *input, uint8_t *row) {
    for (int64_t px = 0; px < padded_width; px++) {
        const int64_t x = px - pad_left;
        uint8_t *pixel = row + px * channels_padded;
        if (x < 0 || x >= width) {
            for (int64_t c = 0; c < channels; c++) pixel[c] = pad;
        }
        for (int64_t c = channels; c < channels_padded; c++) pixel[c] = 0;
    }
    const int64_t x0 = pad_left > 0 ? pad_left : 0;
    const int64_t x1 = pad_left + width < padded_width ? pad_left + width : padded_width;
#if defined(__x86_64__)
    if (channels % 16 == 0 && channels_padded == channels) {
        // 16 channels × 16 pixels at a time, transposed in SSE2 registers; the rest below.
        int64_t px = x0;
        for (; px + 16 <= x1; px += 16) {
            for (int64_t c = 0; c < channels; c += 16) {
                transpose_16x16_flip(input + (c * height + y) * width + (px - pad_left), height * width, row + px * channels_padded + c,
                                     channels_padded);
            }
        }
        for (int64_t c = 0; c < channels; c++) {
            const int8_t *line = input + (c * height + y) * width;
            for (int64_t x = px; x < x1; x++) {
                row[x * channels_padded + c] = (uint8_t)line[x - pad_left] ^ 0x80;
            }
        }
        return;
    }
#endif
    for (int64_t c = 0; c < channels; c++) {
        const int8_t *line = input + (c * height + y) * width;
        for (int64_t px = x0; px < x1; px++) {
            row[px * channels_padded + c] = (uint8_t)line[px - pad_left] ^ 0x80;
        }
    }
}

void dla_conv_prepare_input(int64_t channels, int64_t height, int64_t width, int64_t pad_top, int64_t pad_left,
                            int64_t padded_height, int64_t padded_width, int64_t channels_padded, int8_t pad_value,
                            const int8_t *input, uint8_t *prepared) {
    const uint8_t pad = (uint8_t)pad_value ^ 0x80;
    const int64_t row_bytes = padded_width * channels_padded;
    for (int64_t py = 0; py < padded_height; py++) {
        const int64_t y = py - pad_top;
        uint8_t *row = prepared + py * row_bytes;
        if (y < 0 || y >= height) {
            for (int64_t px = 0; px < padded_width; px++) {
                for (int64_t c = 0; c < channels_padded; c++) row[px * channels_padded + c] = c < channels ? pad : 0;
            }
            continue;
        }
        prepare_row(channels, height, width, y, pad_left, padded_width, channels_padded, pad, input, row);
    }
}

void dla_conv_prepare_rows(int64_t rows, int64_t k, int64_t k_padded, const int8_t *a, int64_t lda, uint8_t *prepared) {
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t p = 0; p < k; p++) prepared[i * k_padded + p] = (uint8_t)a[i * lda + p] ^ 0x80;
        for (int64_t p = k; p < k_padded; p++) prepared[i * k_padded + p] = 0;
    }
}

/// Offset of output pixel p's window origin in the prepared input.
static inline int64_t conv_pixel_base(const dla_conv_plan *plan, int64_t p) {
    const int64_t oy = p / plan->out_width, ox = p % plan->out_width;
    return (oy * plan->stride_y * plan->padded_width + ox * plan->stride_x) * plan->channels_padded;
}

/// Σ(x + 128)·w in wrapping 32-bit arithmetic, less 128·Σw, then CACC's truncation: the exact
/// sum, since it fits int32 (k <= DLA_MAX_EXACT_K) and the wrap-around cancels.
static inline int32_t conv_finish(uint32_t acc, int32_t row_sum, int truncation) {
    const int32_t exact = (int32_t)(acc - ((uint32_t)row_sum << 7));
    if (truncation == 0) {
        return exact;
    }
    const uint32_t magnitude = ((exact < 0 ? 0u - (uint32_t)exact : (uint32_t)exact) + (1u << (truncation - 1))) >> truncation;
    return exact < 0 ? -(int32_t)magnitude : (int32_t)magnitude;
}

/// The plain loops (portable twin; compiled again for AVX2 so the compiler vectorizes them).
static inline __attribute__((always_inline)) void conv_direct_body(const dla_conv_plan *plan, const uint8_t *prepared, const int8_t *packed,
                                                                   const int32_t *row_sums, int64_t first_block, int64_t end_block,
                                                                   int64_t first_pixel, int64_t end_pixel, int32_t *out) {
    const int64_t channel_groups = plan->channels_padded / 4;
    const int64_t groups = plan->taps * channel_groups;
    for (int64_t block = first_block; block < end_block; block++) {
        const int8_t *w = packed + block * groups * 64;
        for (int64_t p = first_pixel; p < end_pixel; p++) {
            const uint8_t *window = prepared + conv_pixel_base(plan, p);
            uint32_t acc[16] = {0};
            for (int64_t t = 0; t < plan->taps; t++) {
                const uint8_t *x = window + plan->tap_offsets[t];
                const int8_t *wt = w + t * channel_groups * 64;
                for (int64_t g = 0; g < channel_groups; g++) {
                    for (int64_t lane = 0; lane < 16; lane++) {
                        int32_t s = 0;
                        for (int64_t q = 0; q < 4; q++) {
                            s += (int32_t)x[g * 4 + q] * (int32_t)wt[g * 64 + lane * 4 + q];
                        }
                        acc[lane] += (uint32_t)s;
                    }
                }
            }
            for (int64_t lane = 0; lane < 16; lane++) {
                const int64_t j = block * 16 + lane;
                if (j < plan->out_channels) {
                    out[j * plan->channel_stride + p * plan->pixel_stride] = conv_finish(acc[lane], row_sums[j], plan->truncation);
                }
            }
        }
    }
}

static void conv_direct_portable(const dla_conv_plan *plan, const uint8_t *prepared, const int8_t *packed, const int32_t *row_sums,
                                 int64_t first_block, int64_t end_block, int64_t first_pixel, int64_t end_pixel, int32_t *out) {
    conv_direct_body(plan, prepared, packed, row_sums, first_block, end_block, first_pixel, end_pixel, out);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void conv_direct_avx2(const dla_conv_plan *plan, const uint8_t *prepared, const int8_t *packed,
                                                             const int32_t *row_sums, int64_t first_block, int64_t end_block,
                                                             int64_t first_pixel, int64_t end_pixel, int32_t *out) {
    conv_direct_body(plan, prepared, packed, row_sums, first_block, end_block, first_pixel, end_pixel, out);
}

/// acc − 128·Σw, truncated as CACC does (round half away from zero).
VNNI_TARGET static inline __m512i conv_finish_v(__m512i acc, __m512i correction, int truncation) {
    __m512i x = _mm512_sub_epi32(acc, correction);
    if (truncation == 0) {
        return x;
    }
    const __mmask16 negative = _mm512_cmplt_epi32_mask(x, _mm512_setzero_si512());
    const __m512i magnitude = _mm512_srli_epi32(_mm512_add_epi32(_mm512_abs_epi32(x), _mm512_set1_epi32(1 << (truncation - 1))),
                                                (unsigned)truncation);
    return _mm512_mask_sub_epi32(magnitude, negative, _mm512_setzero_si512(), magnitude);
}

/// 128·Σw of the (up to 16) valid channels of the block starting at channel `first`.
VNNI_TARGET static inline __m512i conv_correction(const int32_t *row_sums, int64_t first, int64_t n) {
    const int64_t valid = n - first;
    const __mmask16 mask = valid >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1);
    return _mm512_slli_epi32(_mm512_maskz_loadu_epi32(mask, row_sums + first), 7);
}

/// One pixel's 16 channels of a block.
VNNI_TARGET static inline void conv_store_pixel(const dla_conv_plan *plan, int32_t *out, int64_t p, int64_t first, __m512i acc,
                                                __m512i correction) {
    const __m512i x = conv_finish_v(acc, correction, plan->truncation);
    const int64_t valid = plan->out_channels - first;
    if (plan->channel_stride == 1) {
        const __mmask16 mask = valid >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1);
        _mm512_mask_storeu_epi32(out + p * plan->pixel_stride + first, mask, x);
        return;
    }
    int32_t lanes[16];
    _mm512_storeu_si512(lanes, x);
    for (int64_t lane = 0; lane < 16 && lane < valid; lane++) {
        out[(first + lane) * plan->channel_stride + p * plan->pixel_stride] = lanes[lane];
    }
}

/// Four consecutive pixels' 16 channels of a block into planar order (pixel_stride 1): a 4 × 16
/// transpose in registers, then 16-byte stores of four pixels per channel.
VNNI_TARGET static inline void conv_store_pixels4(const dla_conv_plan *plan, int32_t *out, int64_t p, int64_t first,
                                                  __m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512i correction) {
    if (plan->pixel_stride != 1) {
        conv_store_pixel(plan, out, p, first, a0, correction);
        conv_store_pixel(plan, out, p + 1, first, a1, correction);
        conv_store_pixel(plan, out, p + 2, first, a2, correction);
        conv_store_pixel(plan, out, p + 3, first, a3, correction);
        return;
    }
    a0 = conv_finish_v(a0, correction, plan->truncation);
    a1 = conv_finish_v(a1, correction, plan->truncation);
    a2 = conv_finish_v(a2, correction, plan->truncation);
    a3 = conv_finish_v(a3, correction, plan->truncation);
    // Per 128-bit lane L (channels 4L...4L+3): u_q holds channel 4L + q of pixels 0...3.
    const __m512i t0 = _mm512_unpacklo_epi32(a0, a1), t1 = _mm512_unpackhi_epi32(a0, a1);
    const __m512i t2 = _mm512_unpacklo_epi32(a2, a3), t3 = _mm512_unpackhi_epi32(a2, a3);
    __m512i u[4];
    u[0] = _mm512_unpacklo_epi64(t0, t2);
    u[1] = _mm512_unpackhi_epi64(t0, t2);
    u[2] = _mm512_unpacklo_epi64(t1, t3);
    u[3] = _mm512_unpackhi_epi64(t1, t3);
    const int64_t valid = plan->out_channels - first;
    int32_t *target = out + first * plan->channel_stride + p;
    const int64_t cs = plan->channel_stride;
    if (valid >= 16) {
        for (int q = 0; q < 4; q++) {
            _mm_storeu_si128((__m128i *)(target + (0 + q) * cs), _mm512_castsi512_si128(u[q]));
            _mm_storeu_si128((__m128i *)(target + (4 + q) * cs), _mm512_extracti32x4_epi32(u[q], 1));
            _mm_storeu_si128((__m128i *)(target + (8 + q) * cs), _mm512_extracti32x4_epi32(u[q], 2));
            _mm_storeu_si128((__m128i *)(target + (12 + q) * cs), _mm512_extracti32x4_epi32(u[q], 3));
        }
        return;
    }
    int32_t lanes[4][16];
    for (int q = 0; q < 4; q++) _mm512_storeu_si512(lanes[q], u[q]);
    for (int64_t channel = 0; channel < valid; channel++) {
        __builtin_memcpy(target + channel * cs, &lanes[channel % 4][(channel / 4) * 4], 16);
    }
}

VNNI_TARGET static inline __m512i conv_broadcast(const uint8_t *x) {
    uint32_t word;
    __builtin_memcpy(&word, x, 4);
    return _mm512_set1_epi32((int)word);
}

/// Four 16-channel blocks (64 channels) outer, so their weights stay in L2 while every pixel
/// passes; four pixels × four blocks per step: 16 accumulators, each weight load feeding four
/// pixels and each broadcast four blocks, as in gemm_vnni_packed_body.
VNNI_TARGET static void conv_direct_vnni(const dla_conv_plan *plan, const uint8_t *prepared, const int8_t *packed, const int32_t *row_sums,
                                         int64_t first_block, int64_t end_block, int64_t first_pixel, int64_t end_pixel, int32_t *out) {
    const int64_t channel_groups = plan->channels_padded / 4;
    const int64_t groups = plan->taps * channel_groups;
    const int64_t n = plan->out_channels;
    int64_t block = first_block;
    for (; block + 4 <= end_block; block += 4) {
        const int8_t *w = packed + block * groups * 64;
        __m512i correction[4];
        for (int b = 0; b < 4; b++) correction[b] = conv_correction(row_sums, (block + b) * 16, n);
        int64_t p = first_pixel;
        for (; p + 4 <= end_pixel; p += 4) {
            const uint8_t *x0 = prepared + conv_pixel_base(plan, p), *x1 = prepared + conv_pixel_base(plan, p + 1);
            const uint8_t *x2 = prepared + conv_pixel_base(plan, p + 2), *x3 = prepared + conv_pixel_base(plan, p + 3);
            __m512i acc[4][4];
            for (int r = 0; r < 4; r++) for (int b = 0; b < 4; b++) acc[r][b] = _mm512_setzero_si512();
            for (int64_t t = 0; t < plan->taps; t++) {
                const int64_t offset = plan->tap_offsets[t];
                const uint8_t *y0 = x0 + offset, *y1 = x1 + offset, *y2 = x2 + offset, *y3 = x3 + offset;
                const int8_t *wt = w + t * channel_groups * 64;
                for (int64_t g = 0; g < channel_groups; g++) {
                    const __m512i w0 = _mm512_loadu_si512(wt + (0 * groups + g) * 64);
                    const __m512i w1 = _mm512_loadu_si512(wt + (1 * groups + g) * 64);
                    const __m512i w2 = _mm512_loadu_si512(wt + (2 * groups + g) * 64);
                    const __m512i w3 = _mm512_loadu_si512(wt + (3 * groups + g) * 64);
                    const __m512i b0 = conv_broadcast(y0 + g * 4), b1 = conv_broadcast(y1 + g * 4);
                    const __m512i b2 = conv_broadcast(y2 + g * 4), b3 = conv_broadcast(y3 + g * 4);
                    acc[0][0] = _mm512_dpbusd_epi32(acc[0][0], b0, w0); acc[0][1] = _mm512_dpbusd_epi32(acc[0][1], b0, w1);
                    acc[0][2] = _mm512_dpbusd_epi32(acc[0][2], b0, w2); acc[0][3] = _mm512_dpbusd_epi32(acc[0][3], b0, w3);
                    acc[1][0] = _mm512_dpbusd_epi32(acc[1][0], b1, w0); acc[1][1] = _mm512_dpbusd_epi32(acc[1][1], b1, w1);
                    acc[1][2] = _mm512_dpbusd_epi32(acc[1][2], b1, w2); acc[1][3] = _mm512_dpbusd_epi32(acc[1][3], b1, w3);
                    acc[2][0] = _mm512_dpbusd_epi32(acc[2][0], b2, w0); acc[2][1] = _mm512_dpbusd_epi32(acc[2][1], b2, w1);
                    acc[2][2] = _mm512_dpbusd_epi32(acc[2][2], b2, w2); acc[2][3] = _mm512_dpbusd_epi32(acc[2][3], b2, w3);
                    acc[3][0] = _mm512_dpbusd_epi32(acc[3][0], b3, w0); acc[3][1] = _mm512_dpbusd_epi32(acc[3][1], b3, w1);
                    acc[3][2] = _mm512_dpbusd_epi32(acc[3][2], b3, w2); acc[3][3] = _mm512_dpbusd_epi32(acc[3][3], b3, w3);
                }
            }
            for (int b = 0; b < 4; b++) {
                conv_store_pixels4(plan, out, p, (block + b) * 16, acc[0][b], acc[1][b], acc[2][b], acc[3][b], correction[b]);
            }
        }
        for (; p < end_pixel; p++) {
            const uint8_t *x0 = prepared + conv_pixel_base(plan, p);
            __m512i acc[4];
            for (int b = 0; b < 4; b++) acc[b] = _mm512_setzero_si512();
            for (int64_t t = 0; t < plan->taps; t++) {
                const uint8_t *y0 = x0 + plan->tap_offsets[t];
                const int8_t *wt = w + t * channel_groups * 64;
                for (int64_t g = 0; g < channel_groups; g++) {
                    const __m512i b0 = conv_broadcast(y0 + g * 4);
                    for (int b = 0; b < 4; b++) acc[b] = _mm512_dpbusd_epi32(acc[b], b0, _mm512_loadu_si512(wt + (b * groups + g) * 64));
                }
            }
            for (int b = 0; b < 4; b++) conv_store_pixel(plan, out, p, (block + b) * 16, acc[b], correction[b]);
        }
    }
    for (; block < end_block; block++) {
        const int8_t *w = packed + block * groups * 64;
        const __m512i correction = conv_correction(row_sums, block * 16, n);
        int64_t p = first_pixel;
        for (; p + 4 <= end_pixel; p += 4) {
            const uint8_t *x[4];
            __m512i acc[4];
            for (int r = 0; r < 4; r++) {
                x[r] = prepared + conv_pixel_base(plan, p + r);
                acc[r] = _mm512_setzero_si512();
            }
            for (int64_t t = 0; t < plan->taps; t++) {
                const int64_t offset = plan->tap_offsets[t];
                const int8_t *wt = w + t * channel_groups * 64;
                for (int64_t g = 0; g < channel_groups; g++) {
                    const __m512i wv = _mm512_loadu_si512(wt + g * 64);
                    for (int r = 0; r < 4; r++) acc[r] = _mm512_dpbusd_epi32(acc[r], conv_broadcast(x[r] + offset + g * 4), wv);
                }
            }
            conv_store_pixels4(plan, out, p, block * 16, acc[0], acc[1], acc[2], acc[3], correction);
        }
        for (; p < end_pixel; p++) {
            const uint8_t *x0 = prepared + conv_pixel_base(plan, p);
            __m512i acc = _mm512_setzero_si512();
            for (int64_t t = 0; t < plan->taps; t++) {
                const uint8_t *y0 = x0 + plan->tap_offsets[t];
                const int8_t *wt = w + t * channel_groups * 64;
                for (int64_t g = 0; g < channel_groups; g++) {
                    acc = _mm512_dpbusd_epi32(acc, conv_broadcast(y0 + g * 4), _mm512_loadu_si512(wt + g * 64));
                }
            }
            conv_store_pixel(plan, out, p, block * 16, acc, correction);
        }
    }
}
#endif

void dla_conv_s8_direct(const dla_conv_plan *plan, const uint8_t *prepared, const int8_t *packed, const int32_t *row_sums,
                        int64_t first_block, int64_t end_block, int64_t first_pixel, int64_t end_pixel, int32_t *out) {
    if (first_block >= end_block || first_pixel >= end_pixel) {
        return;
    }
#if defined(__x86_64__)
    switch (dla_kernels_active_isa()) {
    case DLA_ISA_AVX512_VNNI:
        conv_direct_vnni(plan, prepared, packed, row_sums, first_block, end_block, first_pixel, end_pixel, out);
        return;
    case DLA_ISA_AVX2:
        conv_direct_avx2(plan, prepared, packed, row_sums, first_block, end_block, first_pixel, end_pixel, out);
        return;
    default:
        break;
    }
#endif
    conv_direct_portable(plan, prepared, packed, row_sums, first_block, end_block, first_pixel, end_pixel, out);
}

// MARK: - Counting

int64_t dla_count_nonzero_s8(int64_t n, const int8_t *a) {
    // Byte-wide partial counts over runs of 255 let the compiler vectorize the comparison.
    int64_t count = 0;
    for (int64_t start = 0; start < n; start += 255) {
        const int64_t end = start + 255 < n ? start + 255 : n;
        uint8_t partial = 0;
        for (int64_t i = start; i < end; i++) {
            partial += a[i] != 0;
        }
        count += partial;
    }
    return count;
}

// MARK: - Zero-activation skipping GEMV

/// Plain loops written so the compiler vectorizes the inner `j` loop (int8 -> int32 widening
/// multiply-add); instantiated once per instruction set below. Four nonzero activations are folded
/// per pass over `out` to cut its load/store traffic.
static inline __attribute__((always_inline)) void gemv_skip_body(int64_t k, int64_t n, const int8_t *a,
                                                                 const int8_t *bt, int64_t ldbt,
                                                                 int32_t *index, int32_t *out) {
    int64_t nz = 0;
    for (int64_t p = 0; p < k; p++) {
        if (a[p] != 0) {
            index[nz++] = (int32_t)p;
        }
    }
    for (int64_t j = 0; j < n; j++) {
        out[j] = 0;
    }
    int64_t q = 0;
    for (; q + 4 <= nz; q += 4) {
        const int32_t x0 = a[index[q]], x1 = a[index[q + 1]], x2 = a[index[q + 2]], x3 = a[index[q + 3]];
        const int8_t *r0 = bt + (int64_t)index[q] * ldbt, *r1 = bt + (int64_t)index[q + 1] * ldbt;
        const int8_t *r2 = bt + (int64_t)index[q + 2] * ldbt, *r3 = bt + (int64_t)index[q + 3] * ldbt;
        for (int64_t j = 0; j < n; j++) {
            out[j] += x0 * r0[j] + x1 * r1[j] + x2 * r2[j] + x3 * r3[j];
        }
    }
    for (; q < nz; q++) {
        const int32_t x = a[index[q]];
        const int8_t *r = bt + (int64_t)index[q] * ldbt;
        for (int64_t j = 0; j < n; j++) {
            out[j] += x * r[j];
        }
    }
}

static void gemv_skip_portable(int64_t k, int64_t n, const int8_t *a, const int8_t *bt, int64_t ldbt,
                               int32_t *index, int32_t *out) {
    gemv_skip_body(k, n, a, bt, ldbt, index, out);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void gemv_skip_avx2(int64_t k, int64_t n, const int8_t *a,
                                                           const int8_t *bt, int64_t ldbt,
                                                           int32_t *index, int32_t *out) {
    gemv_skip_body(k, n, a, bt, ldbt, index, out);
}

VNNI_TARGET static void gemv_skip_avx512(int64_t k, int64_t n, const int8_t *a,
                                         const int8_t *bt, int64_t ldbt,
                                         int32_t *index, int32_t *out) {
    gemv_skip_body(k, n, a, bt, ldbt, index, out);
}
#endif

void dla_gemv_s8_skip_zero_activations(int64_t k, int64_t n, const int8_t *a,
                                       const int8_t *bt, int64_t ldbt,
                                       int32_t *scratch_index, int32_t *out) {
#if defined(__x86_64__)
    switch (dla_kernels_active_isa()) {
    case DLA_ISA_AVX512_VNNI:
        gemv_skip_avx512(k, n, a, bt, ldbt, scratch_index, out);
        return;
    case DLA_ISA_AVX2:
        gemv_skip_avx2(k, n, a, bt, ldbt, scratch_index, out);
        return;
    default:
        break;
    }
#endif
    gemv_skip_portable(k, n, a, bt, ldbt, scratch_index, out);
}

// MARK: - Sparse weights (EIE)

void dla_spmm_csr_s8(int64_t m, int64_t n,
                     const int8_t *a, int64_t lda,
                     const int64_t *row_start, const int32_t *column, const int8_t *values,
                     int32_t *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        const int8_t *ar = a + i * lda;
        int32_t *cr = c + i * ldc;
        for (int64_t j = 0; j < n; j++) {
            int32_t s = 0;
            for (int64_t p = row_start[j]; p < row_start[j + 1]; p++) {
                s += (int32_t)values[p] * (int32_t)ar[column[p]];
            }
            cr[j] = s;
        }
    }
}

/// Plain loops the compiler vectorizes over the batch; instantiated per instruction set.
static inline __attribute__((always_inline)) void spmm_transposed_body(int64_t m, int64_t n, const int8_t *at, int64_t ldat,
                                                                       const int64_t *row_start, const int32_t *column,
                                                                       const int8_t *values, int32_t *acc,
                                                                       int32_t *c, int64_t ldc) {
    for (int64_t j = 0; j < n; j++) {
        for (int64_t i = 0; i < m; i++) {
            acc[i] = 0;
        }
        int64_t p = row_start[j];
        const int64_t end = row_start[j + 1];
        for (; p + 2 <= end; p += 2) {
            const int32_t w0 = values[p], w1 = values[p + 1];
            const int8_t *r0 = at + (int64_t)column[p] * ldat, *r1 = at + (int64_t)column[p + 1] * ldat;
            for (int64_t i = 0; i < m; i++) {
                acc[i] += w0 * r0[i] + w1 * r1[i];
            }
        }
        for (; p < end; p++) {
            const int32_t w = values[p];
            const int8_t *r = at + (int64_t)column[p] * ldat;
            for (int64_t i = 0; i < m; i++) {
                acc[i] += w * r[i];
            }
        }
        for (int64_t i = 0; i < m; i++) {
            c[i * ldc + j] = acc[i];
        }
    }
}

static void spmm_transposed_portable(int64_t m, int64_t n, const int8_t *at, int64_t ldat, const int64_t *row_start,
                                     const int32_t *column, const int8_t *values, int32_t *acc, int32_t *c, int64_t ldc) {
    spmm_transposed_body(m, n, at, ldat, row_start, column, values, acc, c, ldc);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void spmm_transposed_avx2(int64_t m, int64_t n, const int8_t *at, int64_t ldat,
                                                                 const int64_t *row_start, const int32_t *column,
                                                                 const int8_t *values, int32_t *acc, int32_t *c, int64_t ldc) {
    spmm_transposed_body(m, n, at, ldat, row_start, column, values, acc, c, ldc);
}

VNNI_TARGET static void spmm_transposed_avx512(int64_t m, int64_t n, const int8_t *at, int64_t ldat,
                                               const int64_t *row_start, const int32_t *column,
                                               const int8_t *values, int32_t *acc, int32_t *c, int64_t ldc) {
    spmm_transposed_body(m, n, at, ldat, row_start, column, values, acc, c, ldc);
}
#endif

void dla_spmm_csr_s8_transposed(int64_t m, int64_t n, const int8_t *at, int64_t ldat,
                                const int64_t *row_start, const int32_t *column, const int8_t *values,
                                int32_t *scratch, int32_t *c, int64_t ldc) {
#if defined(__x86_64__)
    switch (dla_kernels_active_isa()) {
    case DLA_ISA_AVX512_VNNI:
        spmm_transposed_avx512(m, n, at, ldat, row_start, column, values, scratch, c, ldc);
        return;
    case DLA_ISA_AVX2:
        spmm_transposed_avx2(m, n, at, ldat, row_start, column, values, scratch, c, ldc);
        return;
    default:
        break;
    }
#endif
    spmm_transposed_portable(m, n, at, ldat, row_start, column, values, scratch, c, ldc);
}

void dla_spmv_csc_s8_skip_zero(int64_t k, int64_t n,
                               const int8_t *a,
                               const int64_t *column_start, const int32_t *row, const int8_t *values,
                               int32_t *out) {
    for (int64_t j = 0; j < n; j++) {
        out[j] = 0;
    }
    for (int64_t p = 0; p < k; p++) {
        const int32_t x = a[p];
        if (x == 0) {
            continue;
        }
        for (int64_t q = column_start[p]; q < column_start[p + 1]; q++) {
            out[row[q]] += x * (int32_t)values[q];
        }
    }
}

// MARK: - Parallel parts

/// The pool's one job slot. `sequence` is odd while a job is open; helpers enter a job only by
/// seeing its odd sequence, counting themselves in `inside`, and checking the sequence again, so
/// the caller can close a job (sequence even) and wait for `inside` to reach 0 before the slot is
/// reused: no helper ever claims a part of a job with another job's task.
static struct {
    pthread_mutex_t busy;        // held by the caller of the open job
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    int64_t sleepers;            // helpers waiting on `wake` (under sleep_lock; read atomically)
    int64_t helpers;             // created so far (under busy)
    uint64_t sequence;
    int64_t inside;
    int64_t next;
    int64_t finished;
    int64_t parts;
    dla_parallel_task task;
    void *context;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, NULL, NULL};

/// Waiting in a spin: yield, so that on a busy machine the thread being waited for (perhaps on
/// this very core) runs; on an idle core this returns at once.
static inline void cpu_relax(void) {
    sched_yield();
}

static int64_t monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/// Claims and runs parts of the open job until none is left.
static void run_parts(void) {
    const int64_t parts = __atomic_load_n(&pool.parts, __ATOMIC_SEQ_CST);
    dla_parallel_task task = __atomic_load_n(&pool.task, __ATOMIC_SEQ_CST);
    void *context = __atomic_load_n(&pool.context, __ATOMIC_SEQ_CST);
    for (;;) {
        const int64_t part = __atomic_fetch_add(&pool.next, 1, __ATOMIC_SEQ_CST);
        if (part >= parts) {
            return;
        }
        task(context, part);
        __atomic_fetch_add(&pool.finished, 1, __ATOMIC_SEQ_CST);
    }
}

/// How long a helper spins for the next job before it sleeps.
#define DLA_HELPER_SPIN_NS 1000000

static void *helper_main(void *unused) {
    (void)unused;
    uint64_t seen = 0;
    int64_t idle_since = monotonic_ns();
    for (;;) {
        const uint64_t sequence = __atomic_load_n(&pool.sequence, __ATOMIC_SEQ_CST);
        if ((sequence & 1) && sequence != seen) {
            __atomic_fetch_add(&pool.inside, 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&pool.sequence, __ATOMIC_SEQ_CST) == sequence) {
                run_parts();
            }
            __atomic_fetch_sub(&pool.inside, 1, __ATOMIC_SEQ_CST);
            seen = sequence;
            idle_since = monotonic_ns();
            continue;
        }
        if (monotonic_ns() - idle_since < DLA_HELPER_SPIN_NS) {
            cpu_relax();
            continue;
        }
        pthread_mutex_lock(&pool.sleep_lock);
        __atomic_fetch_add(&pool.sleepers, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&pool.sequence, __ATOMIC_SEQ_CST) == sequence) {
            pthread_cond_wait(&pool.wake, &pool.sleep_lock);
        }
        __atomic_fetch_sub(&pool.sleepers, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&pool.sleep_lock);
        idle_since = monotonic_ns();
    }
    return NULL;
}

void dla_parallel_run(int64_t parts, dla_parallel_task task, void *context) {
    if (parts <= 0) {
        return;
    }
    if (parts == 1 || pthread_mutex_trylock(&pool.busy) != 0) {
        for (int64_t part = 0; part < parts; part++) task(context, part);
        return;
    }
    const int64_t wanted = parts - 1 < 15 ? parts - 1 : 15;
    while (pool.helpers < wanted) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        const int created = pthread_create(&thread, &attributes, helper_main, NULL);
        pthread_attr_destroy(&attributes);
        if (created != 0) {
            break;
        }
        pool.helpers++;
    }
    __atomic_store_n(&pool.task, task, __ATOMIC_SEQ_CST);
    __atomic_store_n(&pool.context, context, __ATOMIC_SEQ_CST);
    __atomic_store_n(&pool.parts, parts, __ATOMIC_SEQ_CST);
    __atomic_store_n(&pool.next, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&pool.finished, 0, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&pool.sequence, 1, __ATOMIC_SEQ_CST);  // open (odd)
    if (__atomic_load_n(&pool.sleepers, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    run_parts();
    while (__atomic_load_n(&pool.finished, __ATOMIC_SEQ_CST) < parts) cpu_relax();
    __atomic_fetch_add(&pool.sequence, 1, __ATOMIC_SEQ_CST);  // closed (even)
    while (__atomic_load_n(&pool.inside, __ATOMIC_SEQ_CST) > 0) cpu_relax();
    pthread_mutex_unlock(&pool.busy);
}

// MARK: - Peak probe

#if defined(__x86_64__)
VNNI_TARGET static int64_t vnni_peak(int64_t iterations) {
    __m512i acc[16];
    for (int r = 0; r < 16; r++) acc[r] = _mm512_set1_epi32(r);
    const __m512i x = _mm512_set1_epi8(1), w = _mm512_set1_epi8(-1);
    for (int64_t i = 0; i < iterations; i++) {
        for (int r = 0; r < 16; r++) acc[r] = _mm512_dpbusd_epi32(acc[r], x, w);
        // Keeps the loop from being folded: the accumulators feed an opaque register each round.
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]),
                              "+v"(acc[4]), "+v"(acc[5]), "+v"(acc[6]), "+v"(acc[7]));
        __asm__ volatile("" : "+v"(acc[8]), "+v"(acc[9]), "+v"(acc[10]), "+v"(acc[11]),
                              "+v"(acc[12]), "+v"(acc[13]), "+v"(acc[14]), "+v"(acc[15]));
    }
    __m512i total = acc[0];
    for (int r = 1; r < 16; r++) total = _mm512_add_epi32(total, acc[r]);
    volatile int32_t sink = _mm512_reduce_add_epi32(total);
    (void)sink;
    return iterations * 16 * 64;
}
#endif

int64_t dla_vnni_peak_macs(int64_t iterations) {
#if defined(__x86_64__)
    if (iterations > 0 && dla_kernels_best_isa() == DLA_ISA_AVX512_VNNI) {
        return vnni_peak(iterations);
    }
#endif
    (void)iterations;
    return 0;
}

// MARK: - PDP

#if defined(__x86_64__)
#define SDP_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
static int has_avx512dq(void);
#endif

#if defined(__x86_64__)
/// 2×2 max pooling at stride 2 (LeNet's), 32 outputs per step: the two input rows' byte maxima,
/// then each even byte against its odd neighbour (shifted down within 16-bit lanes), narrowed.
SDP_TARGET static void max_pool_2x2_avx512(int64_t planes, int64_t height, int64_t width, int64_t out_height, int64_t out_width,
                                           const int8_t *input, int8_t *output) {
    for (int64_t plane = 0; plane < planes; plane++) {
        const int8_t *in = input + plane * height * width;
        int8_t *out = output + plane * out_height * out_width;
        for (int64_t oy = 0; oy < out_height; oy++) {
            const int8_t *top = in + 2 * oy * width, *bottom = top + width;
            for (int64_t ox = 0; ox < out_width; ox += 32) {
                const int64_t outputs = out_width - ox < 32 ? out_width - ox : 32;
                const __mmask64 load = outputs == 32 ? ~(__mmask64)0 : (((__mmask64)1 << (2 * outputs)) - 1);
                const __m512i rows = _mm512_max_epi8(_mm512_maskz_loadu_epi8(load, top + 2 * ox),
                                                     _mm512_maskz_loadu_epi8(load, bottom + 2 * ox));
                const __m512i pairs = _mm512_max_epi8(rows, _mm512_srli_epi16(rows, 8));
                _mm256_mask_storeu_epi8(out + oy * out_width + ox, (__mmask32)((((uint64_t)1) << outputs) - 1),
                                        _mm512_cvtepi16_epi8(pairs));
            }
        }
    }
}
/// 3×3 max or min pooling at stride 2 (ResNet's, after its bordered copy), 32 outputs per step:
/// the three input rows' byte extremes at 2·ox and at 2·ox + 2, then in each 16-bit lane the even
/// byte against its odd neighbour and the next lane's even byte; the low bytes are the outputs.
/// Loads are masked to the row, and every valid output's window lies inside it.
SDP_TARGET static void pool_3x3_stride2_avx512(int64_t planes, int64_t height, int64_t width, int64_t out_height, int64_t out_width,
                                               int minimum, const int8_t *input, int8_t *output) {
    for (int64_t plane = 0; plane < planes; plane++) {
        const int8_t *in = input + plane * height * width;
        int8_t *out = output + plane * out_height * out_width;
        for (int64_t oy = 0; oy < out_height; oy++) {
            const int8_t *r0 = in + 2 * oy * width, *r1 = r0 + width, *r2 = r1 + width;
            for (int64_t ox = 0; ox < out_width; ox += 32) {
                const int64_t outputs = out_width - ox < 32 ? out_width - ox : 32;
                const int64_t x = 2 * ox;
                const int64_t left = width - x;
                const __mmask64 here = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
                const __mmask64 next = left - 2 >= 64 ? ~(__mmask64)0 : left <= 2 ? 0 : (((__mmask64)1 << (left - 2)) - 1);
                __m512i a, b;
                if (minimum) {
                    a = _mm512_min_epi8(_mm512_min_epi8(_mm512_maskz_loadu_epi8(here, r0 + x), _mm512_maskz_loadu_epi8(here, r1 + x)),
                                        _mm512_maskz_loadu_epi8(here, r2 + x));
                    b = _mm512_min_epi8(_mm512_min_epi8(_mm512_maskz_loadu_epi8(next, r0 + x + 2), _mm512_maskz_loadu_epi8(next, r1 + x + 2)),
                                        _mm512_maskz_loadu_epi8(next, r2 + x + 2));
                    a = _mm512_min_epi8(_mm512_min_epi8(a, _mm512_srli_epi16(a, 8)), b);
                } else {
                    a = _mm512_max_epi8(_mm512_max_epi8(_mm512_maskz_loadu_epi8(here, r0 + x), _mm512_maskz_loadu_epi8(here, r1 + x)),
                                        _mm512_maskz_loadu_epi8(here, r2 + x));
                    b = _mm512_max_epi8(_mm512_max_epi8(_mm512_maskz_loadu_epi8(next, r0 + x + 2), _mm512_maskz_loadu_epi8(next, r1 + x + 2)),
                                        _mm512_maskz_loadu_epi8(next, r2 + x + 2));
                    a = _mm512_max_epi8(_mm512_max_epi8(a, _mm512_srli_epi16(a, 8)), b);
                }
                _mm256_mask_storeu_epi8(out + oy * out_width + ox, (__mmask32)((((uint64_t)1) << outputs) - 1), _mm512_cvtepi16_epi8(a));
            }
        }
    }
}
#endif

void dla_pool_s8(int64_t planes, int64_t height, int64_t width, int64_t kh, int64_t kw,
                 int64_t stride_y, int64_t stride_x, int64_t out_height, int64_t out_width, int minimum,
                 const int8_t *input, int8_t *output) {
#if defined(__x86_64__)
    if (!minimum && kh == 2 && kw == 2 && stride_y == 2 && stride_x == 2
        && dla_kernels_active_isa() == DLA_ISA_AVX512_VNNI && has_avx512dq()) {
        max_pool_2x2_avx512(planes, height, width, out_height, out_width, input, output);
        return;
    }
    if (kh == 3 && kw == 3 && stride_y == 2 && stride_x == 2 && dla_kernels_active_isa() == DLA_ISA_AVX512_VNNI && has_avx512dq()) {
        pool_3x3_stride2_avx512(planes, height, width, out_height, out_width, minimum, input, output);
        return;
    }
#endif
    // Tap by tap over a whole output row, so the inner loop (over ox) has no data-dependent branch.
    for (int64_t plane = 0; plane < planes; plane++) {
        const int8_t *in = input + plane * height * width;
        int8_t *out = output + plane * out_height * out_width;
        for (int64_t oy = 0; oy < out_height; oy++) {
            int8_t *row = out + oy * out_width;
            const int8_t *top = in + oy * stride_y * width;
            for (int64_t ox = 0; ox < out_width; ox++) {
                row[ox] = top[ox * stride_x];
            }
            for (int64_t r = 0; r < kh; r++) {
                for (int64_t s = 0; s < kw; s++) {
                    const int8_t *tap = top + r * width + s;
                    if (minimum) {
                        for (int64_t ox = 0; ox < out_width; ox++) {
                            const int8_t x = tap[ox * stride_x];
                            row[ox] = x < row[ox] ? x : row[ox];
                        }
                    } else {
                        for (int64_t ox = 0; ox < out_width; ox++) {
                            const int8_t x = tap[ox * stride_x];
                            row[ox] = x > row[ox] ? x : row[ox];
                        }
                    }
                }
            }
        }
    }
}

// MARK: - SDP

/// x / 2^shift rounded half away from zero; |x| < 2^62 here.
static inline int64_t round_half_away_shift(int64_t x, int shift) {
    if (shift == 0) {
        return x;
    }
    const uint64_t magnitude = ((x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x) + ((uint64_t)1 << (shift - 1))) >> shift;
    return x < 0 ? -(int64_t)magnitude : (int64_t)magnitude;
}

static inline int64_t clamp64(int64_t x, int64_t lo, int64_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/// One element through the program: `in` is the INT32 accumulator or the INT8 code, `ch` this
/// element's channel operands, `operand` its element-wise operand or NULL.
static inline int8_t sdp_element(int64_t in, const int32_t *bias, const int32_t *multiplier, const int32_t *bn_bias,
                                 const int32_t *bn_multiplier, const int32_t *ew_bias, int64_t c, const int8_t *operand,
                                 const dla_sdp_program *p) {
    int64_t x = clamp64(in + bias[c], INT32_MIN, INT32_MAX);
    x = clamp64(round_half_away_shift(x * multiplier[c], p->shift), INT32_MIN, INT32_MAX);
    if (p->bs_clip) {
        x = clamp64(x, p->bs_lo, p->bs_hi);
    }
    if (p->bn) {
        if (bn_bias) {
            x = clamp64(x + bn_bias[c], INT32_MIN, INT32_MAX);
        }
        x = clamp64(round_half_away_shift(x * bn_multiplier[c], p->bn_shift), INT32_MIN, INT32_MAX);
    }
    if (p->ew_add) {
        x = clamp64(x + ew_bias[c], INT32_MIN, INT32_MAX);
    }
    if (operand) {
        // |operand − ew_offset| < 2^32 and |ew_scale| <= 2^15: the product stays below 2^47.
        const int64_t y = clamp64(round_half_away_shift(((int64_t)*operand - (int64_t)p->ew_offset) * (int64_t)p->ew_scale, p->ew_shift),
                                  INT32_MIN, INT32_MAX);
        x = clamp64(x + y, INT32_MIN, INT32_MAX);
    }
    if (p->act_clip) {
        x = clamp64(x, p->act_lo, p->act_hi);
    }
    const int64_t converted = round_half_away_shift((x - (int64_t)p->cvt_offset) * (int64_t)p->cvt_scale, p->cvt_shift);
    return (int8_t)clamp64(converted, p->lo, p->hi);
}

/// The reference twin of every vector path: exactly one of `in32` (accumulators) and `in8`
/// (codes) is given.
static void sdp_portable(int64_t rows, int64_t channels, int64_t inner, const int32_t *in32, const int8_t *in8,
                         const int32_t *bias, const int32_t *multiplier, const int32_t *bn_bias, const int32_t *bn_multiplier,
                         const int32_t *ew_bias, const int8_t *operand, const dla_sdp_program *p, int8_t *out) {
    int64_t i = 0;
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t c = 0; c < channels; c++) {
            for (int64_t e = 0; e < inner; e++, i++) {
                out[i] = sdp_element(in32 ? (int64_t)in32[i] : (int64_t)in8[i], bias, multiplier, bn_bias, bn_multiplier, ew_bias, c,
                                     operand ? operand + i : NULL, p);
            }
        }
    }
}

#if defined(__x86_64__)
/// x / 2^shift rounded half away from zero as (x + 2^(shift−1) − [x < 0]) >> shift (arithmetic):
/// for negative x that is ceil((x − 2^(shift−1)) / 2^shift), the same as −round(−x / 2^shift).
/// Exact for |x| < 2^62 (no multiplier is INT32_MIN, so every product is below that).
SDP_TARGET static inline __m512i round_half_away_shift_v(__m512i x, int shift) {
    if (shift == 0) {
        return x;
    }
    const __m512i biased = _mm512_add_epi64(_mm512_add_epi64(x, _mm512_set1_epi64((int64_t)1 << (shift - 1))), _mm512_srai_epi64(x, 63));
    return _mm512_srai_epi64(biased, (unsigned)shift);
}

SDP_TARGET static inline __m512i clamp_v(__m512i x, int64_t lo, int64_t hi) {
    return _mm512_min_epi64(_mm512_max_epi64(x, _mm512_set1_epi64(lo)), _mm512_set1_epi64(hi));
}

/// Per-lane channel operands (int64) of eight elements.
typedef struct {
    __m512i bias, multiplier, bn_bias, bn_multiplier, ew_bias;
} sdp_lanes;

/// Eight elements (INT32 accumulators at `in32` or INT8 codes at `in8`), the operand (or NULL) per
/// element, the rest from the program.
SDP_TARGET static inline void sdp_vector(const int32_t *in32, const int8_t *in8, const sdp_lanes *ch, int bn_add, const int8_t *operand,
                                         const dla_sdp_program *p, __mmask8 mask, int8_t *out) {
    __m512i x = in32 ? _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(mask, in32))
                     : _mm512_cvtepi8_epi64(_mm_maskz_loadu_epi8((__mmask16)mask, in8));
    x = clamp_v(_mm512_add_epi64(x, ch->bias), INT32_MIN, INT32_MAX);
    x = clamp_v(round_half_away_shift_v(_mm512_mul_epi32(x, ch->multiplier), p->shift), INT32_MIN, INT32_MAX);
    if (p->bs_clip) {
        x = clamp_v(x, p->bs_lo, p->bs_hi);
    }
    if (p->bn) {
        if (bn_add) {
            x = clamp_v(_mm512_add_epi64(x, ch->bn_bias), INT32_MIN, INT32_MAX);
        }
        x = clamp_v(round_half_away_shift_v(_mm512_mul_epi32(x, ch->bn_multiplier), p->bn_shift), INT32_MIN, INT32_MAX);
    }
    if (p->ew_add) {
        x = clamp_v(_mm512_add_epi64(x, ch->ew_bias), INT32_MIN, INT32_MAX);
    }
    if (operand) {
        __m512i y = _mm512_cvtepi8_epi64(_mm_maskz_loadu_epi8((__mmask16)mask, operand));
        y = _mm512_sub_epi64(y, _mm512_set1_epi64(p->ew_offset));
        if (p->ew_scale != 1) {
            y = _mm512_mullo_epi64(y, _mm512_set1_epi64(p->ew_scale));
        }
        y = clamp_v(round_half_away_shift_v(y, p->ew_shift), INT32_MIN, INT32_MAX);
        x = clamp_v(_mm512_add_epi64(x, y), INT32_MIN, INT32_MAX);
    }
    if (p->act_clip) {
        x = clamp_v(x, p->act_lo, p->act_hi);
    }
    x = _mm512_sub_epi64(x, _mm512_set1_epi64(p->cvt_offset));
    if (p->cvt_scale != 1) {
        // A 64-bit multiply costs several micro-ops; the common converter (scale 1) skips it.
        x = _mm512_mullo_epi64(x, _mm512_set1_epi64(p->cvt_scale));
    }
    x = clamp_v(round_half_away_shift_v(x, p->cvt_shift), p->lo, p->hi);
    // Narrow in a register, then store: AMD runs the memory form of vpmovqb as slow microcode.
    _mm_mask_storeu_epi8(out, (__mmask16)mask, _mm512_cvtepi64_epi8(x));
}

SDP_TARGET static inline __m512i channel_lanes(const int32_t *values, __mmask8 mask) {
    return values ? _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(mask, values)) : _mm512_setzero_si512();
}

SDP_TARGET static void sdp_avx512(int64_t rows, int64_t channels, int64_t inner, const int32_t *in32, const int8_t *in8,
                                  const int32_t *bias, const int32_t *multiplier, const int32_t *bn_bias, const int32_t *bn_multiplier,
                                  const int32_t *ew_bias, const int8_t *operand, const dla_sdp_program *p, int8_t *out) {
    if (!p->bn) {
        bn_bias = NULL;
        bn_multiplier = NULL;
    }
    const int bn_add = bn_bias != NULL;
    if (!p->ew_add) {
        ew_bias = NULL;
    }
    sdp_lanes ch;
    if (inner == 1) {
        // Fully connected rows: the channel operands change every element.
        for (int64_t row = 0; row < rows; row++) {
            const int64_t first = row * channels;
            for (int64_t c = 0; c < channels; c += 8) {
                const int64_t remaining = channels - c;
                const __mmask8 mask = remaining >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << remaining) - 1);
                ch.bias = channel_lanes(bias + c, mask);
                ch.multiplier = channel_lanes(multiplier + c, mask);
                ch.bn_bias = channel_lanes(bn_bias ? bn_bias + c : NULL, mask);
                ch.bn_multiplier = channel_lanes(bn_multiplier ? bn_multiplier + c : NULL, mask);
                ch.ew_bias = channel_lanes(ew_bias ? ew_bias + c : NULL, mask);
                sdp_vector(in32 ? in32 + first + c : NULL, in8 ? in8 + first + c : NULL, &ch, bn_add, operand ? operand + first + c : NULL,
                           p, mask, out + first + c);
            }
        }
        return;
    }
    int64_t i = 0;
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t c = 0; c < channels; c++, i += inner) {
            ch.bias = _mm512_set1_epi64(bias[c]);
            ch.multiplier = _mm512_set1_epi64(multiplier[c]);
            ch.bn_bias = _mm512_set1_epi64(bn_bias ? bn_bias[c] : 0);
            ch.bn_multiplier = _mm512_set1_epi64(bn_multiplier ? bn_multiplier[c] : 0);
            ch.ew_bias = _mm512_set1_epi64(ew_bias ? ew_bias[c] : 0);
            for (int64_t e = 0; e < inner; e += 8) {
                const int64_t remaining = inner - e;
                const __mmask8 mask = remaining >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << remaining) - 1);
                sdp_vector(in32 ? in32 + i + e : NULL, in8 ? in8 + i + e : NULL, &ch, bn_add, operand ? operand + i + e : NULL, p, mask,
                           out + i + e);
            }
        }
    }
}

static int has_avx512dq(void) {
    static int cached = -1;
    int value = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (value < 0) {
        __builtin_cpu_init();
        value = __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") ? 1 : 0;
        __atomic_store_n(&cached, value, __ATOMIC_RELAXED);
    }
    return value;
}
#endif

static void sdp_dispatch(int64_t rows, int64_t channels, int64_t inner, const int32_t *in32, const int8_t *in8,
                         const int32_t *bias, const int32_t *multiplier, const int32_t *bn_bias, const int32_t *bn_multiplier,
                         const int32_t *ew_bias, const int8_t *operand, const dla_sdp_program *program, int8_t *output) {
    if (rows <= 0 || channels <= 0 || inner <= 0) {
        return;
    }
#if defined(__x86_64__)
    if (dla_kernels_active_isa() == DLA_ISA_AVX512_VNNI && has_avx512dq()) {
        sdp_avx512(rows, channels, inner, in32, in8, bias, multiplier, bn_bias, bn_multiplier, ew_bias, operand, program, output);
        return;
    }
#endif
    sdp_portable(rows, channels, inner, in32, in8, bias, multiplier, bn_bias, bn_multiplier, ew_bias, operand, program, output);
}

void dla_sdp_s32_s8(int64_t rows, int64_t channels, int64_t inner, const int32_t *input,
                    const int32_t *bias, const int32_t *multiplier, const int32_t *bn_bias, const int32_t *bn_multiplier,
                    const int32_t *ew_bias, const int8_t *operand, const dla_sdp_program *program, int8_t *output) {
    sdp_dispatch(rows, channels, inner, input, NULL, bias, multiplier, bn_bias, bn_multiplier, ew_bias, operand, program, output);
}

void dla_sdp_s8_s8(int64_t rows, int64_t channels, int64_t inner, const int8_t *input,
                   const int32_t *bias, const int32_t *multiplier, const int32_t *bn_bias, const int32_t *bn_multiplier,
                   const int32_t *ew_bias, const int8_t *operand, const dla_sdp_program *program, int8_t *output) {
    sdp_dispatch(rows, channels, inner, NULL, input, bias, multiplier, bn_bias, bn_multiplier, ew_bias, operand, program, output);
}

// MARK: - CACC output order

void dla_transpose_truncate_s32(int64_t rows, int64_t cols, const int32_t *src, int32_t *dst, int64_t ldd, int shift) {
    // Tiles of 32 rows keep the strided reads of one tile in L1 while each output row is written
    // contiguously.
    for (int64_t m0 = 0; m0 < rows; m0 += 32) {
        const int64_t m1 = m0 + 32 < rows ? m0 + 32 : rows;
        for (int64_t j = 0; j < cols; j++) {
            int32_t *target = dst + j * ldd;
            if (shift == 0) {
                for (int64_t m = m0; m < m1; m++) {
                    target[m] = src[m * cols + j];
                }
            } else {
                for (int64_t m = m0; m < m1; m++) {
                    target[m] = (int32_t)round_half_away_shift(src[m * cols + j], shift);
                }
            }
        }
    }
}

// MARK: - Input converter

/// 1/scale when scale is a normal power of two whose reciprocal is finite, else 0. Then x·(1/scale)
/// equals x/scale bit for bit: both round the same exact real (MNIST's input scale is 2^-8).
static float exact_reciprocal(float scale) {
    uint32_t bits;
    __builtin_memcpy(&bits, &scale, 4);
    const uint32_t exponent = (bits >> 23) & 0xFF;
    if ((bits & 0x807FFFFFu) != 0 || exponent == 0 || exponent == 0xFF) {
        return 0;
    }
    const float reciprocal = 1.0f / scale;
    return reciprocal - reciprocal == 0 ? reciprocal : 0;  // finite
}

static void quantize_portable(int64_t n, const float *x, float scale, int32_t zero_point, int32_t lo, int32_t hi, int8_t *out) {
    for (int64_t i = 0; i < n; i++) {
        const float rounded = __builtin_roundevenf(x[i] / scale);
        int64_t steps = 0;
        if (rounded == rounded) {
            const float limited = rounded < -0x1p40f ? -0x1p40f : (rounded > 0x1p40f ? 0x1p40f : rounded);
            steps = (int64_t)limited;
        }
        out[i] = (int8_t)clamp64(steps + (int64_t)zero_point, lo, hi);
    }
}

#if defined(__x86_64__)
/// clamp(steps + zp, lo, hi) = clamp(steps, lo − zp, hi − zp) + zp: with |zp| ≤ 2^20 both bounds
/// are exact floats, so the clamp happens before the (then exact) conversion to int32.
SDP_TARGET static void quantize_avx512(int64_t n, const float *x, float scale, int32_t zero_point, int32_t lo, int32_t hi, int8_t *out) {
    const __m512 divisor = _mm512_set1_ps(scale);
    const float reciprocal = exact_reciprocal(scale);
    const __m512 multiplier = _mm512_set1_ps(reciprocal);
    const __m512 lower = _mm512_set1_ps((float)(lo - zero_point)), upper = _mm512_set1_ps((float)(hi - zero_point));
    const __m512i zp = _mm512_set1_epi32(zero_point);
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t remaining = n - i;
        const __mmask16 mask = remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
        // Division is slow; a power-of-two scale multiplies by its exact reciprocal instead.
        __m512 r = _mm512_roundscale_ps(reciprocal != 0 ? _mm512_mul_ps(v, multiplier) : _mm512_div_ps(v, divisor),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __mmask16 ordered = _mm512_cmp_ps_mask(r, r, _CMP_ORD_Q);
        r = _mm512_maskz_mov_ps(ordered, r);
        r = _mm512_min_ps(_mm512_max_ps(r, lower), upper);
        const __m512i q = _mm512_add_epi32(_mm512_cvttps_epi32(r), zp);
        _mm_mask_storeu_epi8(out + i, mask, _mm512_cvtepi32_epi8(q));  // register narrowing (see sdp_vector)
    }
}
#endif

void dla_quantize_f32_s8(int64_t n, const float *x, float scale, int32_t zero_point, int32_t lo, int32_t hi, int8_t *out) {
    if (n <= 0) {
        return;
    }
#if defined(__x86_64__)
    if (dla_kernels_active_isa() == DLA_ISA_AVX512_VNNI && has_avx512dq() && zero_point >= -(1 << 20) && zero_point <= (1 << 20)
        && lo >= -(1 << 20) && hi <= (1 << 20)) {
        quantize_avx512(n, x, scale, zero_point, lo, hi, out);
        return;
    }
#endif
    quantize_portable(n, x, scale, zero_point, lo, hi, out);
}
