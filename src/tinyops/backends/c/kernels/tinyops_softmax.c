/* SOFTMAX over the last axis, int8 -> int8 / int16, in gemmlowp fixed point as TFLite's
 * reference kernel: exp of each difference to the row maximum (tabulated at generation time
 * with tinyops.runtime's own arithmetic), their sum, its reciprocal by Newton-Raphson, and a
 * rounding rescale. */
#include "tinyops_kernels.h"
#include "tinyops_internal.h"

#define ACCUMULATION_INTEGER_BITS 12

static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

static int32_t saturating_rounding_multiply_by_pot(int32_t x, int32_t exponent)
{
    if (exponent == 0) {
        return x;
    }
    if (exponent < 0) {
        return tinyops_rdbp(x, -exponent);
    }
    {
        const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
        if (x > threshold) {
            return INT32_MAX;
        }
        if (x < -threshold) {
            return INT32_MIN;
        }
        return (int32_t)((uint32_t)x << exponent);
    }
}

/* 1 / (1 + a) for a in [0, 1), Q0.31: three Newton-Raphson steps in Q2.29. */
static int32_t one_over_one_plus_x(int32_t a)
{
    const int32_t q29_48_over_17 = 1515870810;
    const int32_t q29_minus_32_over_17 = -1010580540;
    const int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
    int32_t x = q29_48_over_17 + tinyops_srdhm(half_denominator, q29_minus_32_over_17);
    int i;
    for (i = 0; i < 3; i++) {
        const int32_t half_denominator_times_x = tinyops_srdhm(half_denominator, x);
        const int32_t one_minus = (1 << 29) - half_denominator_times_x;
        x = x + saturating_rounding_multiply_by_pot(tinyops_srdhm(x, one_minus), 2);
    }
    return saturating_rounding_multiply_by_pot(x, 1);
}

static int32_t count_leading_zeros(uint32_t x)
{
    int32_t n = 0;
    while (n < 32 && !(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
}

/* The row maximum, and the reciprocal of the sum of exps with the exponent of the rescale. */
static void row_scale(const tinyops_softmax_params *p, const int32_t *sum_table, const int8_t *in,
                      int32_t out_bits, int32_t *max_out, int32_t *reciprocal, int32_t *exponent)
{
    int32_t max_value = -128, sum = 0, headroom, i;
    for (i = 0; i < p->depth; i++) {
        max_value = in[i] > max_value ? in[i] : max_value;
    }
    for (i = 0; i < p->depth; i++) {
        sum += sum_table[in[i] - max_value + 255];
    }
    headroom = count_leading_zeros((uint32_t)sum);
    *reciprocal = one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
    *exponent = (ACCUMULATION_INTEGER_BITS - headroom) + 31 - out_bits;
    *max_out = max_value;
}

/* Each row is read whole before any of its outputs is written: out may equal in (int8). */
void tinyops_softmax_s8(const tinyops_softmax_params *p, const int32_t *exp_table,
                        const int32_t *sum_table, const int8_t *input, int8_t *output)
{
    int32_t r, i, max_value, reciprocal, exponent;
    for (r = 0; r < p->rows; r++) {
        const int8_t *in = input + (size_t)r * p->depth;
        int8_t *out = output + (size_t)r * p->depth;
        row_scale(p, sum_table, in, 8, &max_value, &reciprocal, &exponent);
        for (i = 0; i < p->depth; i++) {
            const int32_t diff = in[i] - max_value;
            int32_t value = -128;
            if (diff >= p->diff_min) {
                value = tinyops_rdbp(tinyops_srdhm(reciprocal, exp_table[diff + 255]), exponent);
                value = tinyops_clamp(value - 128, -128, 127);
            }
            out[i] = (int8_t)value;
        }
    }
}

void tinyops_softmax_s8_s16(const tinyops_softmax_params *p, const int32_t *exp_table,
                            const int32_t *sum_table, const int8_t *input, int16_t *output)
{
    int32_t r, i, max_value, reciprocal, exponent;
    for (r = 0; r < p->rows; r++) {
        const int8_t *in = input + (size_t)r * p->depth;
        int16_t *out = output + (size_t)r * p->depth;
        row_scale(p, sum_table, in, 16, &max_value, &reciprocal, &exponent);
        for (i = 0; i < p->depth; i++) {
            const int32_t diff = in[i] - max_value;
            int32_t value = -32768;
            if (diff >= p->diff_min) {
                value = tinyops_rdbp(tinyops_srdhm(reciprocal, exp_table[diff + 255]), exponent);
                value = tinyops_clamp(value - 32768, -32768, 32767);
            }
            out[i] = (int16_t)value;
        }
    }
}
