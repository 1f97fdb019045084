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

/* rows x depth int8 inputs times units x depth filters (rows oc_start..oc_stop-1), requantized
 * into rows x units outputs. Safe when output overlaps input in the pointwise in-place way. */
void tinyops_internal_rows_s8(int32_t rows, int32_t depth, int32_t units, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, const int32_t *mult,
                              const int32_t *shift, int8_t *output, int8_t *scratch,
                              int32_t oc_start, int32_t oc_stop, int32_t out_zp,
                              int32_t act_min, int32_t act_max);

/* Output channels oc_start..oc_stop-1 of one or two pixels whose input vectors (length depth)
 * are x0 and x1 (x1 may equal x0; then out1 is NULL and not written). */
void tinyops_internal_pixels_s8(const int8_t *x0, const int8_t *x1, int32_t depth,
                                const int8_t *filter, const int32_t *bias, const int32_t *mult,
                                const int32_t *shift, int8_t *out0, int8_t *out1,
                                int32_t oc_start, int32_t oc_stop, int32_t out_zp,
                                int32_t act_min, int32_t act_max);

#endif /* TINYOPS_INTERNAL_H */
