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

static inline int8_t finish(int32_t acc, int32_t mult, int32_t shift, const out_geometry *g)
{
#if TINYOPS_DSP
    const int32_t value = g->acc_small ? tinyops_requant_small(acc, mult, shift)
                                       : tinyops_requant(acc, mult, shift);
#else
    const int32_t value = tinyops_requant(acc, mult, shift);
#endif
    return (int8_t)tinyops_clamp(value + g->out_zp, g->act_min, g->act_max);
}

__attribute__((noinline)) static void channel_generic(const tinyops_conv_params *p,
                                                     const int8_t *plane, int32_t plane_w,
                                                     const int8_t *w, int32_t bias, int32_t mult,
                                                     int32_t shift, int8_t *out, int32_t oc)
{
    const out_geometry g = {p->out_h, p->out_w, p->out_c, p->stride_h, p->stride_w,
                            p->out_zp, p->act_min, p->act_max, p->acc_small};
    const int32_t k_h = p->k_h, k_w = p->k_w, dil_h = p->dil_h, dil_w = p->dil_w;
    int32_t oy, ox, ky, kx;
    for (oy = 0; oy < g.out_h; oy++) {
        for (ox = 0; ox < g.out_w; ox++) {
            const int8_t *window = plane + (size_t)oy * g.stride_h * plane_w + ox * g.stride_w;
            int32_t acc = bias;
            for (ky = 0; ky < k_h; ky++) {
                const int8_t *row = window + (size_t)ky * dil_h * plane_w;
                const int8_t *taps = w + ky * k_w;
                for (kx = 0; kx < k_w; kx++) {
                    acc += taps[kx] * row[kx * dil_w];
                }
            }
            out[((size_t)oy * g.out_w + ox) * g.out_c + oc] = finish(acc, mult, shift, &g);
        }
    }
}

/* 3x3 without dilation, any stride: the nine taps held in registers. */
__attribute__((noinline)) static void channel_3x3(const tinyops_conv_params *p,
                                                 const int8_t *plane, int32_t plane_w,
                                                 const int8_t *w, int32_t bias, int32_t mult,
                                                 int32_t shift, int8_t *out, int32_t oc)
{
    const out_geometry g = {p->out_h, p->out_w, p->out_c, p->stride_h, p->stride_w,
                            p->out_zp, p->act_min, p->act_max, p->acc_small};
    const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],
                  w7 = w[7], w8 = w[8];
    const int32_t sw = g.stride_w;
    int32_t oy, ox;
    for (oy = 0; oy < g.out_h; oy++) {
        const int8_t *r0 = plane + (size_t)oy * g.stride_h * plane_w;
        const int8_t *r1 = r0 + plane_w;
        const int8_t *r2 = r1 + plane_w;
        int8_t *dst = out + (size_t)oy * g.out_w * g.out_c + oc;
        for (ox = 0; ox < g.out_w; ox++) {
            const int32_t acc = bias + w0 * r0[0] + w1 * r0[1] + w2 * r0[2] + w3 * r1[0] +
                                w4 * r1[1] + w5 * r1[2] + w6 * r2[0] + w7 * r2[1] + w8 * r2[2];
            *dst = finish(acc, mult, shift, &g);
            dst += g.out_c;
            r0 += sw;
            r1 += sw;
            r2 += sw;
        }
    }
}

#if TINYOPS_DSP
static inline int32_t pack16(int32_t low, int32_t high)
{
    return (int32_t)(((uint32_t)(uint16_t)low) | ((uint32_t)(uint16_t)high << 16));
}

/* 3x3, stride 1, dilation 1: outputs ox and ox+1 from bytes x0..x3 of each window row:
 * out[ox] = w0 x0 + w1 x1 + w2 x2 = (x0,x2).(w0,w2) + (x1,x3).(w1,0)
 * out[ox+1] = w0 x1 + w1 x2 + w2 x3 = (x1,x3).(w0,w2) + (x0,x2).(0,w1). */
__attribute__((noinline)) static void channel_3x3_dsp(const tinyops_conv_params *p,
                                                     const int8_t *plane, int32_t plane_w,
                                                     const int8_t *w, int32_t bias, int32_t mult,
                                                     int32_t shift, int8_t *out, int32_t oc)
{
    const out_geometry g = {p->out_h, p->out_w, p->out_c, p->stride_h, p->stride_w,
                            p->out_zp, p->act_min, p->act_max, p->acc_small};
    const int32_t w02_0 = pack16(w[0], w[2]), w1l_0 = pack16(w[1], 0), w1h_0 = pack16(0, w[1]);
    const int32_t w02_1 = pack16(w[3], w[5]), w1l_1 = pack16(w[4], 0), w1h_1 = pack16(0, w[4]);
    const int32_t w02_2 = pack16(w[6], w[8]), w1l_2 = pack16(w[7], 0), w1h_2 = pack16(0, w[7]);
    int32_t oy, ox, ky;
    for (oy = 0; oy < g.out_h; oy++) {
        const int8_t *rows = plane + (size_t)oy * plane_w;
        int8_t *dst = out + (size_t)oy * g.out_w * g.out_c + oc;
        for (ox = 0; ox + 2 <= g.out_w; ox += 2) {
            const int32_t x0 = tinyops_read32(rows + ox);
            const int32_t x1 = tinyops_read32(rows + plane_w + ox);
            const int32_t x2 = tinyops_read32(rows + 2 * plane_w + ox);
            const int32_t e0 = __sxtb16(x0), o0 = tinyops_sxtb16_ror8(x0);
            const int32_t e1 = __sxtb16(x1), o1 = tinyops_sxtb16_ror8(x1);
            const int32_t e2 = __sxtb16(x2), o2 = tinyops_sxtb16_ror8(x2);
            int32_t a = __smlad(e0, w02_0, bias), b = __smlad(o0, w02_0, bias);
            a = __smlad(o0, w1l_0, a);
            b = __smlad(e0, w1h_0, b);
            a = __smlad(e1, w02_1, a);
            b = __smlad(o1, w02_1, b);
            a = __smlad(o1, w1l_1, a);
            b = __smlad(e1, w1h_1, b);
            a = __smlad(e2, w02_2, a);
            b = __smlad(o2, w02_2, b);
            a = __smlad(o2, w1l_2, a);
            b = __smlad(e2, w1h_2, b);
            dst[(size_t)ox * g.out_c] = finish(a, mult, shift, &g);
            dst[(size_t)(ox + 1) * g.out_c] = finish(b, mult, shift, &g);
        }
        if (ox < g.out_w) {
            int32_t a = bias;
            for (ky = 0; ky < 3; ky++) {
                const int8_t *row = rows + (size_t)ky * plane_w + ox;
                a += w[3 * ky] * row[0] + w[3 * ky + 1] * row[1] + w[3 * ky + 2] * row[2];
            }
            dst[(size_t)ox * g.out_c] = finish(a, mult, shift, &g);
        }
    }
}
#endif

void tinyops_depthwise_s8(const tinyops_conv_params *p, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, const int32_t *mult, const int32_t *shift,
                          int8_t *output, void *scratch, int32_t oc_start, int32_t oc_stop)
{
    const int32_t plane_h = (p->out_h - 1) * p->stride_h + (p->k_h - 1) * p->dil_h + 1;
    const int32_t plane_w = (p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1;
    const int32_t taps = p->k_h * p->k_w;
    const int32_t m = p->depth_multiplier;
    int8_t *plane = (int8_t *)scratch;
    int32_t b, c, j;
    const int three = p->k_h == 3 && p->k_w == 3 && p->dil_h == 1 && p->dil_w == 1;
#if TINYOPS_DSP
    const int fast = three && p->stride_h == 1 && p->stride_w == 1;
#endif
    for (b = 0; b < p->batches; b++) {
        const int8_t *in = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        int8_t *out = output + (size_t)b * p->out_h * p->out_w * p->out_c;
        for (c = oc_start / m; c < p->in_c && c * m < oc_stop; c++) {
            fill_plane(p, in, c, plane, plane_h, plane_w);
            for (j = 0; j < m; j++) {
                const int32_t oc = c * m + j;
                const int8_t *w;
                if (oc < oc_start || oc >= oc_stop) {
                    continue;
                }
                w = filter + (size_t)(oc - oc_start) * taps;
#if TINYOPS_DSP
                if (fast) {
                    channel_3x3_dsp(p, plane, plane_w, w, bias[oc], mult[oc], shift[oc], out, oc);
                    continue;
                }
#endif
                if (three) {
                    channel_3x3(p, plane, plane_w, w, bias[oc], mult[oc], shift[oc], out, oc);
                } else {
                    channel_generic(p, plane, plane_w, w, bias[oc], mult[oc], shift[oc], out, oc);
                }
            }
        }
    }
}
