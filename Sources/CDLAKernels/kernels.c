// INT8 kernels with run-time dispatch. The x86 paths are compiled per function with
// __attribute__((target(...))) so the file builds for generic x86-64, and they are guarded by
// __x86_64__ so other architectures (aarch64) build the portable path unchanged.
#include "CDLAKernels.h"

#include <stddef.h>

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
