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

static void fill_plane(const tinyops_conv_params *p, const int8_t *in, int32_t channel,
                       int8_t *plane, int32_t plane_h, int32_t plane_w)
{
    int32_t r, q;
    for (r = 0; r < plane_h; r++) {
        const int32_t iy = r - p->pad_top;
        int8_t *row = plane + (size_t)r * plane_w;
        if (iy < 0 || iy >= p->in_h) {
            memset(row, p->in_zp, (size_t)plane_w);
            continue;
        }
        {
            const int8_t *src = in + (size_t)iy * p->in_w * p->in_c + channel;
            for (q = 0; q < plane_w; q++) {
                const int32_t ix = q - p->pad_left;
                row[q] = (ix < 0 || ix >= p->in_w) ? (int8_t)p->in_zp : src[(size_t)ix * p->in_c];
            }
        }
    }
}

static inline int8_t finish(int32_t acc, int32_t mult, int32_t shift, const tinyops_conv_params *p)
{
    return (int8_t)tinyops_clamp(tinyops_requant(acc, mult, shift) + p->out_zp, p->act_min,
                                 p->act_max);
}

static void channel_generic(const tinyops_conv_params *p, const int8_t *plane, int32_t plane_w,
                            const int8_t *w, int32_t bias, int32_t mult, int32_t shift,
                            int8_t *out, int32_t oc)
{
    int32_t oy, ox, ky, kx;
    for (oy = 0; oy < p->out_h; oy++) {
        for (ox = 0; ox < p->out_w; ox++) {
            const int8_t *window = plane + (size_t)oy * p->stride_h * plane_w + ox * p->stride_w;
            int32_t acc = bias;
            for (ky = 0; ky < p->k_h; ky++) {
                const int8_t *row = window + (size_t)ky * p->dil_h * plane_w;
                const int8_t *taps = w + ky * p->k_w;
                for (kx = 0; kx < p->k_w; kx++) {
                    acc += taps[kx] * row[kx * p->dil_w];
                }
            }
            out[((size_t)oy * p->out_w + ox) * p->out_c + oc] = finish(acc, mult, shift, p);
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
static void channel_3x3_dsp(const tinyops_conv_params *p, const int8_t *plane, int32_t plane_w,
                            const int8_t *w, int32_t bias, int32_t mult, int32_t shift,
                            int8_t *out, int32_t oc)
{
    int32_t w02[3], w1l[3], w1h[3];
    int32_t oy, ox, ky;
    for (ky = 0; ky < 3; ky++) {
        w02[ky] = pack16(w[3 * ky], w[3 * ky + 2]);
        w1l[ky] = pack16(w[3 * ky + 1], 0);
        w1h[ky] = pack16(0, w[3 * ky + 1]);
    }
    for (oy = 0; oy < p->out_h; oy++) {
        const int8_t *rows = plane + (size_t)oy * plane_w;
        int8_t *dst = out + (size_t)oy * p->out_w * p->out_c + oc;
        for (ox = 0; ox + 2 <= p->out_w; ox += 2) {
            int32_t a = bias, b = bias;
            for (ky = 0; ky < 3; ky++) {
                const int32_t x = tinyops_read32(rows + (size_t)ky * plane_w + ox);
                const int32_t even = __sxtb16(x), odd = tinyops_sxtb16_ror8(x);
                a = __smlad(even, w02[ky], a);
                a = __smlad(odd, w1l[ky], a);
                b = __smlad(odd, w02[ky], b);
                b = __smlad(even, w1h[ky], b);
            }
            dst[(size_t)ox * p->out_c] = finish(a, mult, shift, p);
            dst[(size_t)(ox + 1) * p->out_c] = finish(b, mult, shift, p);
        }
        if (ox < p->out_w) {
            int32_t a = bias;
            for (ky = 0; ky < 3; ky++) {
                const int8_t *row = rows + (size_t)ky * plane_w + ox;
                a += w[3 * ky] * row[0] + w[3 * ky + 1] * row[1] + w[3 * ky + 2] * row[2];
            }
            dst[(size_t)ox * p->out_c] = finish(a, mult, shift, p);
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
#if TINYOPS_DSP
    const int fast = p->k_h == 3 && p->k_w == 3 && p->stride_h == 1 && p->stride_w == 1 &&
                     p->dil_h == 1 && p->dil_w == 1;
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
                channel_generic(p, plane, plane_w, w, bias[oc], mult[oc], shift[oc], out, oc);
            }
        }
    }
}
