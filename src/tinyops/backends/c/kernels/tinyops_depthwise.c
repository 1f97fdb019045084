/* DEPTHWISE_CONV_2D (int8, per-channel, any depth multiplier, stride, dilation, padding).
 *
 * The kernel walks input channels: it gathers channel c of every pixel into a plane in scratch,
 * padded with the input zero point so that no tap needs a bounds check, then computes the output
 * channels c*m .. c*m+m-1 from the plane. Because channel c is copied out before output channel c
 * is written, and output channel c lands only on bytes of input channel c (multiplier 1), the
 * kernel runs in place (TinyEngine's trick). The DSP path does 3x3 stride-1 windows two output
 * pixels at a time with SMLAD on the halfword pairs SXTB16 extracts from one 32-bit load per row.
 */
#include "tinyops_kernels.h"
#include "tinyops_internal.h"

/* Locals instead of p->... everywhere: int8 stores may alias the params struct, so the compiler
 * would reload every field after each store. */
static void fill_plane(const tinyops_conv_params *p, const int8_t *in, int32_t channel,
                       int8_t *plane, int32_t plane_h, int32_t plane_w)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left;
    const int8_t zp = (int8_t)p->in_zp;
    int32_t r, q;
    for (r = 0; r < plane_h; r++) {
        const int32_t iy = r - pad_top;
        int8_t *row = plane + (size_t)r * plane_w;
        if (iy < 0 || iy >= in_h) {
            memset(row, zp, (size_t)plane_w);
            continue;
        }
        {
            const int8_t *src = in + (size_t)iy * in_w * in_c + channel;
            const int32_t left = pad_left < plane_w ? pad_left : plane_w;
            const int32_t stop = pad_left + in_w < plane_w ? pad_left + in_w : plane_w;
            for (q = 0; q < left; q++) {
                row[q] = zp;
            }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            {
                /* four gathered bytes per word store */
                const int8_t *s = src + (size_t)(q - pad_left) * in_c;
                const size_t c1 = (size_t)in_c, c2 = 2 * c1, c3 = 3 * c1;
                for (; q + 4 <= stop; q += 4) {
                    const uint32_t word = (uint32_t)(uint8_t)s[0] | (uint32_t)(uint8_t)s[c1] << 8 |
                                          (uint32_t)(uint8_t)s[c2] << 16 |
                                          (uint32_t)(uint8_t)s[c3] << 24;
                    memcpy(row + q, &word, sizeof(word));
                    s += 4 * c1;
                }
            }
#endif
            for (; q < stop; q++) {
                row[q] = src[(size_t)(q - pad_left) * in_c];
            }
            for (; q < plane_w; q++) {
                row[q] = zp;
            }
        }
    }
}

typedef struct {
    int32_t out_h, out_w, out_c, stride_h, stride_w, out_zp, act_min, act_max, acc_small;
} out_geometry;

/* Second phase of each output row: requantize the row's accumulators into channel oc of the
 * output (stride out_c). Kept apart from the multiply-accumulate phase so that each loop has its
 * values in registers. */
__attribute__((noinline)) static void requant_row(const int32_t *acc, int32_t n, int8_t *dst,
                                                 int32_t stride, int32_t mult, int32_t shift,
                                                 const out_geometry *g)
{
    const int32_t zp = g->out_zp, lo = g->act_min, hi = g->act_max, small = g->acc_small;
    int32_t i;
#if TINYOPS_DSP
    if (small && shift < 0) {
        const int32_t right = -shift, half = 1 << (right - 1);
        if (lo == -128 && hi == 127) { /* the clamp is a saturation: one SSAT */
            for (i = 0; i < n; i++) {
                int32_t high;
                __asm__("smmulr %0, %1, %2" : "=r"(high) : "r"(acc[i] * 2), "r"(mult));
                high = (high + half - (int32_t)((uint32_t)high >> 31)) >> right;
                *dst = (int8_t)__ssat(high + zp, 8);
                dst += stride;
            }
            return;
        }
        for (i = 0; i < n; i++) {
            int32_t high;
            __asm__("smmulr %0, %1, %2" : "=r"(high) : "r"(acc[i] * 2), "r"(mult));
            high = (high + half - (int32_t)((uint32_t)high >> 31)) >> right;
            *dst = (int8_t)tinyops_clamp(high + zp, lo, hi);
            dst += stride;
        }
        return;
    }
#endif
    for (i = 0; i < n; i++) {
        *dst = tinyops_out8(acc[i], mult, shift, small, zp, lo, hi);
        dst += stride;
    }
}

/* Any window: accumulators of one output row. */
static void row_generic(const tinyops_conv_params *p, const int8_t *window0, int32_t plane_w,
                        const int8_t *w, int32_t bias, int32_t *acc)
{
    const int32_t k_h = p->k_h, k_w = p->k_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int32_t out_w = p->out_w, stride_w = p->stride_w;
    int32_t ox, ky, kx;
    for (ox = 0; ox < out_w; ox++) {
        const int8_t *window = window0 + (size_t)ox * stride_w;
        int32_t sum = bias;
        for (ky = 0; ky < k_h; ky++) {
            const int8_t *row = window + (size_t)ky * dil_h * plane_w;
            const int8_t *taps = w + ky * k_w;
            for (kx = 0; kx < k_w; kx++) {
                sum += taps[kx] * row[kx * dil_w];
            }
        }
        acc[ox] = sum;
    }
}

/* 3x3 without dilation, any stride: the nine taps held in registers. */
static void row_3x3(const int8_t *r0, int32_t plane_w, int32_t stride_w, int32_t out_w,
                    const int8_t *w, int32_t bias, int32_t *acc)
{
    const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],
                  w7 = w[7], w8 = w[8];
    const int8_t *r1 = r0 + plane_w;
    const int8_t *r2 = r1 + plane_w;
    int32_t ox;
    for (ox = 0; ox < out_w; ox++) {
        acc[ox] = bias + w0 * r0[0] + w1 * r0[1] + w2 * r0[2] + w3 * r1[0] + w4 * r1[1] +
                  w5 * r1[2] + w6 * r2[0] + w7 * r2[1] + w8 * r2[2];
        r0 += stride_w;
        r1 += stride_w;
        r2 += stride_w;
    }
}

#if TINYOPS_DSP
static inline int32_t pack16(int32_t low, int32_t high)
{
    return (int32_t)(((uint32_t)(uint16_t)low) | ((uint32_t)(uint16_t)high << 16));
}

/* 3x3, stride 1: outputs ox and ox+1 from bytes x0..x3 of each window row, with
 * even = (x0,x2), odd = (x1,x3) from SXTB16:
 * out[ox]   = w0 x0 + w2 x2 + w1 x1 = SMLAD(even, (w0,w2)) + SMLABB(odd, w1)
 * out[ox+1] = w0 x1 + w2 x3 + w1 x2 = SMLAD(odd, (w0,w2)) + SMLATB(even, w1). */
static void row_3x3_dsp(const int8_t *r0, int32_t plane_w, int32_t out_w, const int8_t *w,
                        int32_t bias, int32_t *acc)
{
    const int32_t w02_0 = pack16(w[0], w[2]), w02_1 = pack16(w[3], w[5]),
                  w02_2 = pack16(w[6], w[8]);
    const int32_t w1_01 = pack16(w[1], w[4]), w1_2 = w[7];
    const int8_t *r1 = r0 + plane_w;
    const int8_t *r2 = r1 + plane_w;
    int32_t ox;
    for (ox = 0; ox + 2 <= out_w; ox += 2) {
        const int32_t x0 = tinyops_read32(r0 + ox);
        const int32_t x1 = tinyops_read32(r1 + ox);
        const int32_t x2 = tinyops_read32(r2 + ox);
        int32_t e = __sxtb16(x0), o = tinyops_sxtb16_ror8(x0);
        int32_t a = __smlad(e, w02_0, bias), b = __smlad(o, w02_0, bias);
        a = __smlabb(o, w1_01, a);
        b = __smlatb(e, w1_01, b);
        e = __sxtb16(x1);
        o = tinyops_sxtb16_ror8(x1);
        a = __smlad(e, w02_1, a);
        b = __smlad(o, w02_1, b);
        a = __smlabt(o, w1_01, a);
        b = __smlatt(e, w1_01, b);
        e = __sxtb16(x2);
        o = tinyops_sxtb16_ror8(x2);
        a = __smlad(e, w02_2, a);
        b = __smlad(o, w02_2, b);
        a = __smlabb(o, w1_2, a);
        b = __smlatb(e, w1_2, b);
        acc[ox] = a;
        acc[ox + 1] = b;
    }
    if (ox < out_w) {
        acc[ox] = bias + w[0] * r0[ox] + w[1] * r0[ox + 1] + w[2] * r0[ox + 2] +
                  w[3] * r1[ox] + w[4] * r1[ox + 1] + w[5] * r1[ox + 2] + w[6] * r2[ox] +
                  w[7] * r2[ox + 1] + w[8] * r2[ox + 2];
    }
}

/* 3x3, any stride: out[ox] = (x0,x2).(w0,w2) + x1 w1 per window row, from one 32-bit load
 * (the fourth byte unused; the plane has room since rows are at least 3 bytes and the kernel
 * reads rows, not past the last one: see the scratch size, which adds 4 bytes). */
static void row_3x3_strided_dsp(const int8_t *r0, int32_t plane_w, int32_t stride_w,
                                int32_t out_w, const int8_t *w, int32_t bias, int32_t *acc)
{
    const int32_t w02_0 = pack16(w[0], w[2]), w02_1 = pack16(w[3], w[5]),
                  w02_2 = pack16(w[6], w[8]);
    const int32_t w1_01 = pack16(w[1], w[4]), w1_2 = w[7];
    const int8_t *r1 = r0 + plane_w;
    const int8_t *r2 = r1 + plane_w;
    int32_t ox;
    for (ox = 0; ox < out_w; ox++) {
        const int32_t x0 = tinyops_read32(r0), x1 = tinyops_read32(r1), x2 = tinyops_read32(r2);
        int32_t a = __smlad(__sxtb16(x0), w02_0, bias);
        a = __smlabb(tinyops_sxtb16_ror8(x0), w1_01, a);
        a = __smlad(__sxtb16(x1), w02_1, a);
        a = __smlabt(tinyops_sxtb16_ror8(x1), w1_01, a);
        a = __smlad(__sxtb16(x2), w02_2, a);
        a = __smlabb(tinyops_sxtb16_ror8(x2), w1_2, a);
        acc[ox] = a;
        r0 += stride_w;
        r1 += stride_w;
        r2 += stride_w;
    }
}
#endif

static void channel(const tinyops_conv_params *p, const int8_t *plane, int32_t plane_w,
                    const int8_t *w, int32_t bias, int32_t mult, int32_t shift, int8_t *out,
                    int32_t oc, int32_t *acc)
{
    const out_geometry g = {p->out_h, p->out_w, p->out_c, p->stride_h, p->stride_w,
                            p->out_zp, p->act_min, p->act_max, p->acc_small};
    const int three = p->k_h == 3 && p->k_w == 3 && p->dil_h == 1 && p->dil_w == 1;
    int32_t oy;
    for (oy = 0; oy < g.out_h; oy++) {
        const int8_t *rows = plane + (size_t)oy * g.stride_h * plane_w;
#if TINYOPS_DSP
        if (three && g.stride_w == 1) {
            row_3x3_dsp(rows, plane_w, g.out_w, w, bias, acc);
        } else if (three) {
            row_3x3_strided_dsp(rows, plane_w, g.stride_w, g.out_w, w, bias, acc);
        } else
#endif
        if (three) {
            row_3x3(rows, plane_w, g.stride_w, g.out_w, w, bias, acc);
        } else {
            row_generic(p, rows, plane_w, w, bias, acc);
        }
        requant_row(acc, g.out_w, out + (size_t)oy * g.out_w * g.out_c + oc, g.out_c, mult, shift,
                    &g);
    }
}

void tinyops_depthwise_s8(const tinyops_conv_params *p, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, const int32_t *mult, const int32_t *shift,
                          int8_t *output, void *scratch, int32_t oc_start, int32_t oc_stop)
{
    const int32_t plane_h = (p->out_h - 1) * p->stride_h + (p->k_h - 1) * p->dil_h + 1;
    const int32_t plane_w = (p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1;
    const int32_t taps = p->k_h * p->k_w;
    const int32_t m = p->depth_multiplier;
    int8_t *plane = (int8_t *)scratch;
    /* one output row of accumulators after the plane and 4 bytes that a 32-bit load of the
     * last window may touch */
    int32_t *acc = (int32_t *)(void *)((uint8_t *)scratch +
                                       (((size_t)plane_h * plane_w + 4 + 3) & ~(size_t)3));
    int32_t b, c, j;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        int8_t *out = output + (size_t)b * p->out_h * p->out_w * p->out_c;
        for (c = oc_start / m; c < p->in_c && c * m < oc_stop; c++) {
            fill_plane(p, in, c, plane, plane_h, plane_w);
            for (j = 0; j < m; j++) {
                const int32_t oc = c * m + j;
                if (oc < oc_start || oc >= oc_stop) {
                    continue;
                }
                channel(p, plane, plane_w, filter + (size_t)(oc - oc_start) * taps, bias[oc],
                        mult[oc], shift[oc], out, oc, acc);
            }
        }
    }
}
