/* Arithmetic shared by the tinyops kernels (not part of the public API).
 *
 * These mirror tinyops/runtime/fixedpoint.py, which mirrors TFLite/TFLM's quantization_util and
 * gemmlowp helpers: int32 values, 64-bit products, C's truncating division, saturation.
 */
#ifndef TINYOPS_INTERNAL_H
#define TINYOPS_INTERNAL_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && !defined(TINYOPS_FORCE_PORTABLE)
#define TINYOPS_DSP 1
#include <arm_acle.h>
#else
#define TINYOPS_DSP 0
#endif

/* gemmlowp SaturatingRoundingDoublingHighMul. */
static inline int32_t tinyops_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    {
        const int64_t ab = (int64_t)a * b;
        const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
        return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* truncates toward zero */
    }
}

/* gemmlowp RoundingDivideByPOT: arithmetic shift right, rounding half away from zero. */
static inline int32_t tinyops_rdbp(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding), any shift. */
static inline int32_t tinyops_mbqm(int32_t x, int32_t mult, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t scaled = (int32_t)((uint32_t)x << left); /* wraps as the C++ does */
    return tinyops_rdbp(tinyops_srdhm(scaled, mult), right);
}

/* The same value for multipliers >= 0 (all TFLite produces) and shifts <= 0, in fewer
 * instructions: SRDHM's nudge-and-truncate equals floor((x*M + 2^30) / 2^31) (no saturation: M is
 * never INT32_MIN), a 64-bit add and a shift by the constant 31. Left shifts take the general
 * path. */
static inline int32_t tinyops_requant(int32_t x, int32_t mult, int32_t shift)
{
    if (__builtin_expect(shift > 0, 0)) {
        return tinyops_mbqm(x, mult, shift);
    }
    {
        const int32_t high = (int32_t)(((int64_t)x * mult + ((int64_t)1 << 30)) >> 31);
        return tinyops_rdbp(high, -shift);
    }
}

static inline int32_t tinyops_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* An unaligned 32-bit load (one LDR on ARMv7-M/v8-M). */
static inline int32_t tinyops_read32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

#if TINYOPS_DSP
/* SXTB16 of the word rotated by 8: bytes 1 and 3 sign-extended to two halfwords. arm_acle.h
 * has no rotated form. */
static inline int32_t tinyops_sxtb16_ror8(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#endif

#if TINYOPS_DSP
/* tinyops_requant for accumulators with |acc| < 2^30 (the generator proves the bound per op):
 * SRDHM = floor((acc*M + 2^30) / 2^31) = SMMULR(2*acc, M), and RoundingDivideByPOT without
 * overflow since |SRDHM| < 2^30. */
static inline int32_t tinyops_requant_small(int32_t acc, int32_t mult, int32_t shift)
{
    if (__builtin_expect(shift <= 0, 1)) {
        int32_t high;
        __asm__("smmulr %0, %1, %2" : "=r"(high) : "r"(acc * 2), "r"(mult));
        if (shift == 0) {
            return high;
        }
        return (high + (1 << (-shift - 1)) - (int32_t)((uint32_t)high >> 31)) >> -shift;
    }
    return tinyops_mbqm(acc, mult, shift);
}
#endif

/* The per-channel output stage of conv, depthwise and fully connected. */
typedef struct {
    const int32_t *bias, *mult, *shift;
    int32_t out_zp, act_min, act_max;
    int32_t acc_small; /* every accumulator of the op is below 2^30 in magnitude */
} tinyops_stage;

/* Requantize, add the zero point, clamp: scalars only (int8 stores may alias any struct field,
 * which would make the compiler reload fields after every store). */
__attribute__((always_inline, unused)) static inline int8_t tinyops_out8(int32_t acc, int32_t mult,
                                                                 int32_t shift, int32_t small,
                                                                 int32_t zp, int32_t lo,
                                                                 int32_t hi)
{
    int32_t value;
#if TINYOPS_DSP
    value = small ? tinyops_requant_small(acc, mult, shift) : tinyops_requant(acc, mult, shift);
#else
    (void)small;
    value = tinyops_requant(acc, mult, shift);
#endif
    return (int8_t)tinyops_clamp(value + zp, lo, hi);
}

/* rows x depth int8 inputs times units x depth filters (rows oc_start..oc_stop-1), requantized
 * into rows x units outputs. Safe when output overlaps input in the pointwise in-place way.
 * scratch: tinyops_internal_scratch_bytes(depth). */
void tinyops_internal_rows_s8(int32_t rows, int32_t depth, int32_t units, const int8_t *input,
                              const int8_t *filter, const tinyops_stage *st, int8_t *output,
                              void *scratch, int32_t oc_start, int32_t oc_stop);

#endif /* TINYOPS_INTERNAL_H */
