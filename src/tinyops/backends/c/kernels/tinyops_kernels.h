/* tinyops int8 kernels: the C kernel library of `tinyops generate`.
 *
 * C99, no allocation, no globals. Every kernel is bit-exact with tinyops.runtime (TFLM's
 * arithmetic: double rounding in MultiplyByQuantizedMultiplier, C's truncating division,
 * saturation). Cores with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33/M55) take
 * SMLAD/SXTB16 paths in conv, depthwise and fully connected that give the same bits as the
 * portable path; define TINYOPS_FORCE_PORTABLE to build the portable path everywhere.
 *
 * Conventions
 * - Activations are NHWC int8. Shapes, quantization and folded constants are computed by the
 *   generator (tinyops.backends.c.emit_ops) at generation time and passed in a params struct.
 * - Filters are stored one output channel per row: conv [oc][kh][kw][ic], depthwise
 *   [oc][kh][kw] (transposed from TFLite's [1][kh][kw][oc]), fully connected [units][depth].
 *   A channel range is therefore a contiguous slice of the filter array.
 * - Channel ranges: conv, depthwise and fully connected compute output channels
 *   [oc_start, oc_stop) only; `filter` points at the row of channel oc_start (the start of an
 *   overlay buffer holding just that slice, or filter_base + oc_start * row_length), while bias,
 *   multiplier and shift are indexed by absolute channel.
 * - Bias arrays are folded: bias[oc] - input_zero_point * sum(filter[oc]), so the inner loops
 *   multiply raw int8 values; padded taps read the input zero point (which contributes zero).
 * - Scratch: conv and fully connected (two input vectors, int8 and, on DSP cores, widened to
 *   int16) and depthwise (one zero-point-padded input channel plane) take a scratch pointer of
 *   the size emit_ops reports, 8-byte aligned.
 *
 * In-place execution (the overlaps src/tinyops/memory/inplace.py plans; nothing else may alias)
 * - view (RESHAPE, SQUEEZE, EXPAND_DIMS): tinyops_copy does nothing when in == out.
 * - elementwise (LUT ops, ADD, SUB, MUL, QUANTIZE int8->int8, RELU...): output element i is
 *   written after input element i is read, in increasing i; out == in is safe.
 * - depthwise (multiplier 1, out at the input's offset): the kernel walks input channels; it
 *   copies channel c of every pixel into the scratch plane before writing output channel c, and
 *   output channel c only lands on bytes of input channel c. Needs the full channel range.
 * - pointwise (1x1 stride-1 conv or multi-row fully connected, out at the input's offset): each
 *   group of at most two pixels (rows) is copied to scratch before any of their outputs are
 *   written; groups go forward when output pixels are no wider than input pixels, else backward,
 *   so every write lands on input bytes already copied. Needs the full channel range.
 * - pad (input placed at the end of the output buffer): tinyops_pad writes the output forward with
 *   memmove/memset; every write lands on input bytes already consumed.
 */
#ifndef TINYOPS_KERNELS_H
#define TINYOPS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINYOPS_MAX_DIMS 6

/* CONV_2D and DEPTHWISE_CONV_2D geometry. */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w;
    int32_t pad_top, pad_left;
    int32_t depth_multiplier; /* depthwise only */
    int32_t in_zp;            /* padding value (already folded into the bias) */
    int32_t out_zp;
    int32_t act_min, act_max;
    int32_t acc_small; /* 1: every accumulator is below 2^30 in magnitude (a faster rescale) */
} tinyops_conv_params;

/* FULLY_CONNECTED: `rows` input rows of `depth` values -> rows x units. */
typedef struct {
    int32_t rows, depth, units;
    int32_t out_zp;
    int32_t act_min, act_max;
    int32_t acc_small;
} tinyops_fc_params;

/* ADD / SUB / MUL over NumPy broadcasting: shapes padded to TINYOPS_MAX_DIMS, strides in
 * elements, 0 on broadcast dimensions. */
typedef struct {
    int32_t shape[TINYOPS_MAX_DIMS];
    int32_t a_stride[TINYOPS_MAX_DIMS];
    int32_t b_stride[TINYOPS_MAX_DIMS];
    int32_t a_zp, b_zp, out_zp;
    int32_t a_mult, a_shift, b_mult, b_shift; /* ADD/SUB only */
    int32_t out_mult, out_shift;
    int32_t left_shift; /* ADD/SUB: 20 */
    int32_t act_min, act_max;
} tinyops_binary_params;

/* AVERAGE_POOL_2D / MAX_POOL_2D. */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t act_min, act_max;
} tinyops_pool_params;

/* MEAN over one contiguous run of axes: input [outer][reduce][inner] -> [outer][inner]. */
typedef struct {
    int32_t outer, reduce, inner;
    int32_t offset; /* in_zp * reduce */
    int32_t mult, shift;
    int32_t out_zp;
    int32_t act_min, act_max;
} tinyops_mean_params;

/* SOFTMAX over the last axis: rows x depth. exp_table[d + 255] = exp of difference d to the row
 * maximum (Q0.31), sum_table[d + 255] the same scaled for accumulation (Q12.19). */
typedef struct {
    int32_t rows, depth;
    int32_t diff_min;
} tinyops_softmax_params;

/* PAD / PADV2 on up to 4 dimensions (shapes padded at the front with 1). */
typedef struct {
    int32_t in_shape[4];
    int32_t before[4];
    int32_t after[4];
    int32_t elem_bytes;
    int32_t value; /* the pad element (int8 pattern) */
} tinyops_pad_params;

/* TRANSPOSE: the output walked in order; in_stride[d] is the input stride (elements) of output
 * dimension d. */
typedef struct {
    int32_t out_shape[TINYOPS_MAX_DIMS];
    int32_t in_stride[TINYOPS_MAX_DIMS];
    int32_t elem_bytes;
} tinyops_transpose_params;

/* RESIZE_NEAREST_NEIGHBOR: source row/column per output row/column, computed at generation. */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
} tinyops_resize_params;

/* --- kernels -------------------------------------------------------------------------------- */

void tinyops_conv_s8(const tinyops_conv_params *p, const int8_t *input, const int8_t *filter,
                     const int32_t *bias, const int32_t *mult, const int32_t *shift,
                     int8_t *output, void *scratch, int32_t oc_start, int32_t oc_stop);

void tinyops_depthwise_s8(const tinyops_conv_params *p, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, const int32_t *mult, const int32_t *shift,
                          int8_t *output, void *scratch, int32_t oc_start, int32_t oc_stop);

void tinyops_fc_s8(const tinyops_fc_params *p, const int8_t *input, const int8_t *filter,
                   const int32_t *bias, const int32_t *mult, const int32_t *shift,
                   int8_t *output, void *scratch, int32_t oc_start, int32_t oc_stop);

void tinyops_add_s8(const tinyops_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void tinyops_sub_s8(const tinyops_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void tinyops_mul_s8(const tinyops_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);

/* Any int8 -> int8 elementwise function as a 256-entry table indexed by the input's byte
 * pattern ((uint8_t)x): RELU, RELU6, RELU_N1_TO_1, LOGISTIC, HARD_SWISH, QUANTIZE (requantize). */
void tinyops_lut_s8(const int8_t *input, int8_t *output, int32_t count, const int8_t *table);
/* DEQUANTIZE int8 -> float32 through a 256-entry table (same indexing). */
void tinyops_lut_s8_f32(const int8_t *input, float *output, int32_t count, const float *table);
/* QUANTIZE float32 -> int8: round half away from zero of x / scale (float32), plus zero point. */
void tinyops_quantize_f32_s8(const float *input, int8_t *output, int32_t count, float scale,
                             int32_t zero_point);

void tinyops_avgpool_s8(const tinyops_pool_params *p, const int8_t *input, int8_t *output);
void tinyops_maxpool_s8(const tinyops_pool_params *p, const int8_t *input, int8_t *output);
void tinyops_mean_s8(const tinyops_mean_params *p, const int8_t *input, int8_t *output);

void tinyops_softmax_s8(const tinyops_softmax_params *p, const int32_t *exp_table,
                        const int32_t *sum_table, const int8_t *input, int8_t *output);
void tinyops_softmax_s8_s16(const tinyops_softmax_params *p, const int32_t *exp_table,
                            const int32_t *sum_table, const int8_t *input, int16_t *output);

/* RESHAPE / SQUEEZE / EXPAND_DIMS: nothing when in == out, else memmove. */
void tinyops_copy(const void *input, void *output, int32_t bytes);
void tinyops_pad(const tinyops_pad_params *p, const void *input, void *output);
/* CONCATENATION: `outer` times, each input's `inner_bytes[i]` run in turn. */
void tinyops_concat(const void *const *inputs, const int32_t *inner_bytes, int32_t count,
                    int32_t outer, void *output);
void tinyops_transpose(const tinyops_transpose_params *p, const void *input, void *output);
void tinyops_resize_nearest_s8(const tinyops_resize_params *p, const int32_t *rows,
                               const int32_t *cols, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYOPS_KERNELS_H */
