/* AVERAGE_POOL_2D, MAX_POOL_2D and MEAN (int8). */
#include "tinyops_kernels.h"
#include "tinyops_internal.h"

/* One axis of a pooling window: it starts at input index `start` (negative inside the padding),
 * and only its taps [k0, k1) fall inside the input; padding does not count towards an average. */
typedef struct {
    int32_t start, k0, k1;
} pool_window;

static pool_window window_at(int32_t out, int32_t stride, int32_t pad, int32_t size, int32_t k)
{
    pool_window w;
    w.start = out * stride - pad;
    w.k0 = w.start < 0 ? -w.start : 0;
    w.k1 = size - w.start < k ? size - w.start : k;
    return w;
}

void tinyops_avgpool_s8(const tinyops_pool_params *p, const int8_t *input, int8_t *output)
{
    int32_t b, oy, ox, c, ky, kx;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in = input + (size_t)b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; oy++) {
            const pool_window wy = window_at(oy, p->stride_h, p->pad_top, p->in_h, p->k_h);
            for (ox = 0; ox < p->out_w; ox++) {
                const pool_window wx = window_at(ox, p->stride_w, p->pad_left, p->in_w, p->k_w);
                const int32_t count = (wy.k1 - wy.k0) * (wx.k1 - wx.k0);
                for (c = 0; c < p->channels; c++) {
                    int32_t sum = 0, rounded;
                    for (ky = wy.k0; ky < wy.k1; ky++) {
                        const int8_t *row = in + (size_t)(wy.start + ky) * p->in_w * p->channels + c;
                        for (kx = wx.k0; kx < wx.k1; kx++) {
                            sum += row[(size_t)(wx.start + kx) * p->channels];
                        }
                    }
                    /* round half away from zero with C's truncating division */
                    rounded = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
                    *output++ = (int8_t)tinyops_clamp(rounded, p->act_min, p->act_max);
                }
            }
        }
    }
}

void tinyops_maxpool_s8(const tinyops_pool_params *p, const int8_t *input, int8_t *output)
{
    int32_t b, oy, ox, c, ky, kx;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in = input + (size_t)b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; oy++) {
            const pool_window wy = window_at(oy, p->stride_h, p->pad_top, p->in_h, p->k_h);
            for (ox = 0; ox < p->out_w; ox++) {
                const pool_window wx = window_at(ox, p->stride_w, p->pad_left, p->in_w, p->k_w);
                for (c = 0; c < p->channels; c++) {
                    int32_t best = -128;
                    for (ky = wy.k0; ky < wy.k1; ky++) {
                        const int8_t *row = in + (size_t)(wy.start + ky) * p->in_w * p->channels + c;
                        for (kx = wx.k0; kx < wx.k1; kx++) {
                            const int32_t v = row[(size_t)(wx.start + kx) * p->channels];
                            best = v > best ? v : best;
                        }
                    }
                    *output++ = (int8_t)tinyops_clamp(best, p->act_min, p->act_max);
                }
            }
        }
    }
}

void tinyops_mean_s8(const tinyops_mean_params *p, const int8_t *input, int8_t *output)
{
    int32_t o, r, i;
    for (o = 0; o < p->outer; o++) {
        const int8_t *in = input + (size_t)o * p->reduce * p->inner;
        for (i = 0; i < p->inner; i++) {
            int32_t sum = 0;
            for (r = 0; r < p->reduce; r++) {
                sum += in[(size_t)r * p->inner + i];
            }
            sum = tinyops_mbqm(sum - p->offset, p->mult, p->shift) + p->out_zp;
            output[(size_t)o * p->inner + i] = (int8_t)tinyops_clamp(sum, p->act_min, p->act_max);
        }
    }
}
