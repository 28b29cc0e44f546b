// CDLAKernels: the host's hot loops for the emulated convolution core.
//
// Every kernel computes exact INT8 x INT8 -> INT32 dot products. Exactness bound: one product is at
// most 128 * 128 = 2^14 in magnitude, so any sum of at most DLA_MAX_EXACT_K products fits in int32
// (131071 * 2^14 < 2^31). Callers must split longer reductions (the Swift side does, summing the
// pieces in Int64 to keep NVDLA's 34-bit CACC semantics). Intermediate int32 wrap-around inside the
// VNNI path (the +128 shift) cancels exactly because the final result is in range.
//
// Results never depend on the instruction set chosen: every path is bit-identical to the portable C.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Longest reduction (K) for which an int32 sum of INT8 x INT8 products is exact.
#define DLA_MAX_EXACT_K 131071

/// Instruction-set paths a kernel may take.
typedef enum {
    DLA_ISA_PORTABLE = 0,
    DLA_ISA_AVX2 = 1,
    DLA_ISA_AVX512_VNNI = 2,
} dla_isa;

/// The best path this CPU supports (CPUID on x86-64; portable elsewhere).
int dla_kernels_best_isa(void);
/// The path kernels currently take.
int dla_kernels_active_isa(void);
/// Forces a path (for tests and benchmarks). Returns 0 on success, -1 if this CPU cannot run it
/// (the active path is then unchanged). A negative `isa` restores the best path.
int dla_kernels_force_isa(int isa);
/// A short name for a path: "portable", "avx2", "avx512vnni".
const char *dla_isa_name(int isa);

/// Row sums of an N x K int8 matrix (one per output channel): the VNNI path's +128 correction and the
/// zero-point compensation both need them. `sums[n] = sum_k B[n*ldb + k]`.
void dla_s8_row_sums(int64_t n, int64_t k, const int8_t *b, int64_t ldb, int32_t *sums);

/// Dense GEMM, both operands K-contiguous: C[m*ldc + n] = sum_k A[m*lda + k] * B[n*ldb + k].
/// `b_row_sums` are dla_s8_row_sums of B (required: the VNNI path uses them). k <= DLA_MAX_EXACT_K.
void dla_gemm_s8s8s32(int64_t m, int64_t n, int64_t k,
                      const int8_t *a, int64_t lda,
                      const int8_t *b, int64_t ldb, const int32_t *b_row_sums,
                      int32_t *c, int64_t ldc);

/// The VNNI broadcast kernel reads weights packed by `dla_conv_pack_weights` as one tap
/// (`kh = kw = 1`, channels = K): blocks of 16 output channels, each holding for every group of 4
/// reduction steps 16 × 4 bytes (channel-major within the group), K padded to a multiple of 4 and
/// N to a multiple of 16 with zero weights.
/// Whether dla_gemm_s8_vnni_packed can run now (the active path is AVX-512 VNNI).
int dla_vnni_packed_available(void);
/// Dense GEMM on packed weights: each 4-byte group of an activation row (shifted +128) is
/// broadcast and multiplied into 16 output channels at once with vpdpbusd, no horizontal sums.
/// Same contract and result as dla_gemm_s8s8s32. Call it when dla_vnni_packed_available(); on a
/// CPU without AVX-512 VNNI it does nothing.
void dla_gemm_s8_vnni_packed(int64_t m, int64_t n, int64_t k,
                             const int8_t *a, int64_t lda,
                             const int8_t *packed, const int32_t *b_row_sums,
                             int32_t *c, int64_t ldc);

/// Direct convolution (implicit GEMM; NHWC activations, packed weights), as oneDNN and XNNPACK
/// run INT8 convolutions: no im2col copy, the kernel reads each tap of each output pixel in place.
///
/// Weights are packed once (`dla_conv_pack_weights`) in blocks of 16 output channels; within a
/// block, for every tap (r, s) in order and every group of 4 input channels (C padded to
/// `channels_padded`, a multiple of 4, with zero weights), 16 channels × 4 bytes. With one tap
/// and C = K this is the layout `dla_gemm_s8_vnni_packed` reads for an N × K matrix.
int64_t dla_conv_packed_size(int64_t n, int64_t channels, int64_t kh, int64_t kw);
/// Packs `weights` (`[n][channels][kh][kw]`, the order CDMA streams) into `packed`
/// (dla_conv_packed_size bytes).
void dla_conv_pack_weights(int64_t n, int64_t channels, int64_t kh, int64_t kw, const int8_t *weights, int8_t *packed);
/// The inverse: the plain `[n][channels][kh][kw]` weights back from `packed`.
void dla_conv_unpack_weights(int64_t n, int64_t channels, int64_t kh, int64_t kw, const int8_t *packed, int8_t *weights);

/// One image's input as the direct kernel reads it: `[padded_height][padded_width][channels_padded]`
/// unsigned bytes holding x + 128 (x XOR 0x80), the padded border holding pad_value + 128 and the
/// padding channels 0 (their weights are 0). Coordinates start at (−pad_top, −pad_left).
void dla_conv_prepare_input(int64_t channels, int64_t height, int64_t width, int64_t pad_top, int64_t pad_left,
                            int64_t padded_height, int64_t padded_width, int64_t channels_padded, int8_t pad_value,
                            const int8_t *input, uint8_t *prepared);

/// Rows of `k` INT8 values (a fully connected layer's batch, im2col patches) as the direct kernel
/// reads a 1×1 convolution: `rows × k_padded` bytes x + 128, the padding bytes 0.
void dla_conv_prepare_rows(int64_t rows, int64_t k, int64_t k_padded, const int8_t *a, int64_t lda, uint8_t *prepared);

/// Where the direct kernel finds its operands.
typedef struct {
    /// Bytes per input pixel in the prepared input: C padded to a multiple of 4.
    int64_t channels_padded;
    /// Width of the prepared input, in pixels.
    int64_t padded_width;
    /// Output pixels per row (the flattened pixel index p is oy · out_width + ox).
    int64_t out_width;
    int64_t stride_y;
    int64_t stride_x;
    /// Kernel taps (kh · kw) and, per tap (r, s), its byte offset from the output pixel's window
    /// origin: (r · dilation_y · padded_width + s · dilation_x) · channels_padded.
    int64_t taps;
    const int64_t *tap_offsets;
    /// Output channels (n) and where output (p, j) goes: out[j · channel_stride + p · pixel_stride].
    /// Either stride must be 1 (planar CACC order, or rows of channels).
    int64_t out_channels;
    int64_t channel_stride;
    int64_t pixel_stride;
    /// CACC's CLIP_TRUNCATE (0...31), rounding half away from zero.
    int32_t truncation;
} dla_conv_plan;

/// The direct convolution of output pixels [first_pixel, end_pixel) and 16-channel blocks
/// [first_block, end_block): exact Σ x·w per output, minus nothing (the caller folds zero points),
/// truncated as CACC does. Reductions must be at most DLA_MAX_EXACT_K. Disjoint ranges write
/// disjoint outputs, so threads may split a convolution by pixels or blocks. Every path gives the
/// bits of the portable C.
void dla_conv_s8_direct(const dla_conv_plan *plan, const uint8_t *prepared, const int8_t *packed, const int32_t *row_sums,
                        int64_t first_block, int64_t end_block, int64_t first_pixel, int64_t end_pixel, int32_t *out);

/// im2col for one convolution group: for every output pixel (oy, ox) a row of
/// `channels × kh × kw` bytes in (c, r, s) order, taps outside the input holding `pad_value`.
/// `input` points at the group's first channel plane (`height × width` bytes each).
void dla_im2col_s8(int64_t channels, int64_t height, int64_t width,
                   int64_t kh, int64_t kw, int64_t stride_y, int64_t stride_x,
                   int64_t pad_top, int64_t pad_left, int64_t dilation_y, int64_t dilation_x,
                   int64_t out_height, int64_t out_width, int8_t pad_value,
                   const int8_t *input, int8_t *rows);

/// Number of nonzero bytes in `a` (activation density for strategy choice and stats).
int64_t dla_count_nonzero_s8(int64_t n, const int8_t *a);

/// Zero-activation skipping GEMV (SCNN-style on the input side): gathers the nonzero entries of `a`
/// once, then accumulates only those rows of the transposed weights `bt` (K x N, row k holds the N
/// weights that multiply a[k]). out[n] = sum_k a[k] * bt[k*ldbt + n]. `scratch_index` holds k int32.
void dla_gemv_s8_skip_zero_activations(int64_t k, int64_t n,
                                       const int8_t *a,
                                       const int8_t *bt, int64_t ldbt,
                                       int32_t *scratch_index,
                                       int32_t *out);

/// Sparse weights, dense activations (per-output-channel CSR, EIE's execution form transposed for
/// batch): C[m*ldc + j] = sum_{p in row_start[j]..row_start[j+1]} values[p] * A[m*lda + column[p]].
void dla_spmm_csr_s8(int64_t m, int64_t n,
                     const int8_t *a, int64_t lda,
                     const int64_t *row_start, const int32_t *column, const int8_t *values,
                     int32_t *c, int64_t ldc);

/// Sparse weights against a batch of dense activations stored transposed: `at` is K x M (row k
/// holds the M activations that multiply weight column k), so each nonzero weight scales one
/// contiguous row and the batch loop vectorizes. C[i*ldc + j] = sum_p values[p] * at[column[p]*ldat + i].
/// `scratch` holds m int32.
void dla_spmm_csr_s8_transposed(int64_t m, int64_t n,
                                const int8_t *at, int64_t ldat,
                                const int64_t *row_start, const int32_t *column, const int8_t *values,
                                int32_t *scratch, int32_t *c, int64_t ldc);

/// Sparse weights and sparse activations (EIE): weights stored per input column (CSC); for every
/// nonzero a[k] only the nonzero weights of column k are visited. out must hold n int32; it is
/// overwritten. out[j] = sum_k a[k] * W[j][k].
void dla_spmv_csc_s8_skip_zero(int64_t k, int64_t n,
                               const int8_t *a,
                               const int64_t *column_start, const int32_t *row, const int8_t *values,
                               int32_t *out);

/// Max (or, with `minimum` nonzero, min) pooling of `planes` INT8 planes without padding: every
/// window lies inside the plane ((out_height − 1)·stride_y + kh <= height, likewise for width).
void dla_pool_s8(int64_t planes, int64_t height, int64_t width, int64_t kh, int64_t kw,
                 int64_t stride_y, int64_t stride_x, int64_t out_height, int64_t out_width, int minimum,
                 const int8_t *input, int8_t *output);

/// SDP's program (see DLAEngine's `FusedSDP`), in NVDLA's order: BS (bias → multiplier → clip), BN
/// (bias → multiplier), the element-wise operand, the activation clip, the output converter. Every
/// stage computes in int64 and saturates to INT32; every truncation rounds half away from zero.
typedef struct {
    /// BS multiplier truncation, 0...63.
    int32_t shift;
    /// Nonzero: clamp BS's result to bs_lo...bs_hi (an intermediate INT8 tensor's code range, or ReLU).
    int32_t bs_clip;
    int32_t bs_lo;
    int32_t bs_hi;
    /// Nonzero: the BN stage runs (bias, then multiplier truncated by bn_shift, 0...63).
    int32_t bn;
    int32_t bn_shift;
    /// Nonzero: Y's ALU adds the per-channel ew_bias after BN (no element-wise operand then).
    int32_t ew_add;
    /// Nonzero: clamp to act_lo...act_hi after the operand (ReLU is 0...INT32_MAX).
    int32_t act_clip;
    int32_t act_lo;
    int32_t act_hi;
    /// Output converter: saturate(round_half_away(((x − cvt_offset)·cvt_scale) >> cvt_shift)).
    int32_t cvt_offset;
    int32_t cvt_scale;
    int32_t cvt_shift;
    /// Saturation range of the output type.
    int32_t lo;
    int32_t hi;
    /// Element-wise operand alignment, used when an operand is given:
    /// y = sat32(round_half_away(((operand − ew_offset)·ew_scale) >> ew_shift)), ew_shift 0...63.
    int32_t ew_offset;
    int32_t ew_scale;
    int32_t ew_shift;
} dla_sdp_program;

/// `rows × channels × inner` INT32 values (channel-major within a row) to INT8:
/// x = sat32(in + bias[c]); x = sat32(round_half_away(x·multiplier[c] >> shift)); BS clip; when
/// `program->bn`, x = sat32(x + bn_bias[c]) and x = sat32(round_half_away(x·bn_multiplier[c] >> bn_shift))
/// (bn_multiplier is read only then; bn_bias may be NULL: no add); when `program->ew_add`, x = sat32(x + ew_bias[c]);
/// with a non-NULL `operand` (INT8, laid out as `input`), x = sat32(x + y) with y aligned as above (a
/// residual connection); activation clip;
/// converter. Multipliers are int32 other than INT32_MIN; cvt_scale and ew_scale must fit 16 bits
/// (SDP's converters).
/// Every instruction-set path agrees bit for bit with the portable one.
void dla_sdp_s32_s8(int64_t rows, int64_t channels, int64_t inner, const int32_t *input,
                    const int32_t *bias, const int32_t *multiplier, const int32_t *bn_bias, const int32_t *bn_multiplier,
                    const int32_t *ew_bias, const int8_t *operand, const dla_sdp_program *program, int8_t *output);

/// The same program on INT8 input codes (an SDP reading a tensor from memory: an element-wise
/// add of two activations, a rescale, a standalone activation).
void dla_sdp_s8_s8(int64_t rows, int64_t channels, int64_t inner, const int8_t *input,
                   const int32_t *bias, const int32_t *multiplier, const int32_t *bn_bias, const int32_t *bn_multiplier,
                   const int32_t *ew_bias, const int8_t *operand, const dla_sdp_program *program, int8_t *output);

/// The input converter (ONNX QuantizeLinear): out[i] = saturate(round_half_even(x[i] / scale) + zero_point)
/// into lo...hi (an 8-bit range), the division in float32; NaN gives zero_point. Same bits as
/// DLANumerics' AffineQuantization.quantize on every path.
void dla_quantize_f32_s8(int64_t n, const float *x, float scale, int32_t zero_point, int32_t lo, int32_t hi, int8_t *out);

/// CACC's results from GEMM order to planar order: dst[j*ldd + m] = src[m*cols + j] / 2^shift,
/// rounded half away from zero (CLIP_TRUNCATE, 0...31; a truncated int32 cannot saturate).
void dla_transpose_truncate_s32(int64_t rows, int64_t cols, const int32_t *src, int32_t *dst, int64_t ldd, int shift);

/// A part of a parallel operation: `part` in 0..<parts of the job whose `context` it gets.
typedef void (*dla_parallel_task)(void *context, int64_t part);

/// Runs task(context, 0..<parts) on the calling thread and up to parts − 1 helper threads, and
/// returns when every part has run. Helpers are created on first use and stay awake (spinning
/// about a millisecond) between jobs, so an inference's successive operations do not each pay for
/// waking a sleeping thread (tens of microseconds in a VM); parts a helper has not claimed in time
/// run on the caller. One job at a time: while another thread's job runs, a call runs its parts
/// inline. Which thread runs a part never changes what the part computes.
void dla_parallel_run(int64_t parts, dla_parallel_task task, void *context);

/// Throughput probe: `iterations` rounds of 16 independent vpdpbusd (16 × 64 = 1024 INT8 MACs each),
/// so that latency never limits the rate. Returns the MACs performed (0 without AVX-512 VNNI).
/// Benchmarks time it to quote the machine's peak beside achieved GOPS.
int64_t dla_vnni_peak_macs(int64_t iterations);

#ifdef __cplusplus
}
#endif
