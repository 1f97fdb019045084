/* Elementwise int8 ops: ADD, SUB, MUL with broadcasting, table look-ups for every unary op, and
 * float <-> int8 (de)quantization. Outputs are written in increasing index order after the
 * matching inputs are read, so out == a (or b) is safe when shapes are equal. */
#include "tinyops_kernels.h"
#include "tinyops_internal.h"

typedef int32_t (*binary_fn)(const tinyops_binary_params *p, int32_t a, int32_t b);

static int32_t add_one(const tinyops_binary_params *p, int32_t a, int32_t b)
{
    const int32_t sa = tinyops_requant((a - p->a_zp) * (1 << p->left_shift), p->a_mult, p->a_shift);
    const int32_t sb = tinyops_requant((b - p->b_zp) * (1 << p->left_shift), p->b_mult, p->b_shift);
    return tinyops_requant(sa + sb, p->out_mult, p->out_shift) + p->out_zp;
}

static int32_t sub_one(const tinyops_binary_params *p, int32_t a, int32_t b)
{
    const int32_t sa = tinyops_requant((a - p->a_zp) * (1 << p->left_shift), p->a_mult, p->a_shift);
    const int32_t sb = tinyops_requant((b - p->b_zp) * (1 << p->left_shift), p->b_mult, p->b_shift);
    return tinyops_requant(sa - sb, p->out_mult, p->out_shift) + p->out_zp;
}

static int32_t mul_one(const tinyops_binary_params *p, int32_t a, int32_t b)
{
    return tinyops_requant((a - p->a_zp) * (b - p->b_zp), p->out_mult, p->out_shift) + p->out_zp;
}

/* Walks the output in order over six broadcast dimensions. */
static void broadcast(const tinyops_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out,
                      binary_fn fn)
{
    const int32_t *n = p->shape;
    int32_t i0, i1, i2, i3, i4, i5;
    for (i0 = 0; i0 < n[0]; i0++) {
        for (i1 = 0; i1 < n[1]; i1++) {
            for (i2 = 0; i2 < n[2]; i2++) {
                for (i3 = 0; i3 < n[3]; i3++) {
                    for (i4 = 0; i4 < n[4]; i4++) {
                        const int8_t *pa = a + i0 * p->a_stride[0] + i1 * p->a_stride[1] +
                                           i2 * p->a_stride[2] + i3 * p->a_stride[3] +
                                           i4 * p->a_stride[4];
                        const int8_t *pb = b + i0 * p->b_stride[0] + i1 * p->b_stride[1] +
                                           i2 * p->b_stride[2] + i3 * p->b_stride[3] +
                                           i4 * p->b_stride[4];
                        for (i5 = 0; i5 < n[5]; i5++) {
                            const int32_t value = fn(p, pa[i5 * p->a_stride[5]], pb[i5 * p->b_stride[5]]);
                            *out++ = (int8_t)tinyops_clamp(value, p->act_min, p->act_max);
                        }
                    }
                }
            }
        }
    }
}

void tinyops_add_s8(const tinyops_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    broadcast(p, a, b, out, add_one);
}

void tinyops_sub_s8(const tinyops_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    broadcast(p, a, b, out, sub_one);
}

void tinyops_mul_s8(const tinyops_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    broadcast(p, a, b, out, mul_one);
}

void tinyops_lut_s8(const int8_t *input, int8_t *output, int32_t count, const int8_t *table)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        output[i] = table[(uint8_t)input[i]];
    }
}

void tinyops_lut_s8_f32(const int8_t *input, float *output, int32_t count, const float *table)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        output[i] = table[(uint8_t)input[i]];
    }
}

void tinyops_quantize_f32_s8(const float *input, int8_t *output, int32_t count, float scale,
                             int32_t zero_point)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        const float q = input[i] / scale; /* float32 division, as TFLite's AffineQuantize */
        const float magnitude = (q < 0.0f ? -q : q) + 0.5f;
        /* floor of a non-negative float: integral already from 2^23 on */
        float rounded = magnitude >= 8388608.0f ? magnitude : (float)(int32_t)magnitude;
        if (q < 0.0f) {
            rounded = -rounded;
        }
        rounded += (float)zero_point;
        output[i] = (int8_t)(rounded < -128.0f ? -128 : (rounded > 127.0f ? 127 : (int32_t)rounded));
    }
}
