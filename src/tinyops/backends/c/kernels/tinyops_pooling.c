/* AVERAGE_POOL_2D, MAX_POOL_2D and MEAN (int8). */
#include "tinyops_kernels.h"
#include "tinyops_internal.h"

void tinyops_avgpool_s8(const tinyops_pool_params *p, const int8_t *input, int8_t *output)
{
    int32_t b, oy, ox, c, ky, kx;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in = input + (size_t)b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t ky0 = y0 < 0 ? -y0 : 0;
            const int32_t ky1 = p->in_h - y0 < p->k_h ? p->in_h - y0 : p->k_h;
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t kx0 = x0 < 0 ? -x0 : 0;
                const int32_t kx1 = p->in_w - x0 < p->k_w ? p->in_w - x0 : p->k_w;
                const int32_t count = (ky1 - ky0) * (kx1 - kx0);
                for (c = 0; c < p->channels; c++) {
                    int32_t sum = 0, rounded;
                    for (ky = ky0; ky < ky1; ky++) {
                        const int8_t *row = in + (size_t)(y0 + ky) * p->in_w * p->channels + c;
                        for (kx = kx0; kx < kx1; kx++) {
                            sum += row[(size_t)(x0 + kx) * p->channels];
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
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t ky0 = y0 < 0 ? -y0 : 0;
            const int32_t ky1 = p->in_h - y0 < p->k_h ? p->in_h - y0 : p->k_h;
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t kx0 = x0 < 0 ? -x0 : 0;
                const int32_t kx1 = p->in_w - x0 < p->k_w ? p->in_w - x0 : p->k_w;
                for (c = 0; c < p->channels; c++) {
                    int32_t best = -128;
                    for (ky = ky0; ky < ky1; ky++) {
                        const int8_t *row = in + (size_t)(y0 + ky) * p->in_w * p->channels + c;
                        for (kx = kx0; kx < kx1; kx++) {
                            const int32_t v = row[(size_t)(x0 + kx) * p->channels];
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
