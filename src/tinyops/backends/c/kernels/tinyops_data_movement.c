/* Ops that move bytes: RESHAPE (copy), PAD, CONCATENATION, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR. */
#include "tinyops_kernels.h"
#include "tinyops_internal.h"

void tinyops_copy(const void *input, void *output, int32_t bytes)
{
    if (input != output) {
        memmove(output, input, (size_t)bytes);
    }
}

/* Forward over the output; memmove/memset keep the in-place layout (input at the end of the
 * output buffer) safe, since each write lands on input bytes already consumed. */
void tinyops_pad(const tinyops_pad_params *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t eb = (size_t)p->elem_bytes;
    int32_t out_shape[4];
    int32_t d, i0, i1, i2;
    for (d = 0; d < 4; d++) {
        out_shape[d] = p->before[d] + p->in_shape[d] + p->after[d];
    }
    {
        const size_t row_bytes = (size_t)out_shape[3] * eb;
        for (i0 = 0; i0 < out_shape[0]; i0++) {
            const int pad0 = i0 < p->before[0] || i0 >= p->before[0] + p->in_shape[0];
            for (i1 = 0; i1 < out_shape[1]; i1++) {
                const int pad1 = pad0 || i1 < p->before[1] || i1 >= p->before[1] + p->in_shape[1];
                for (i2 = 0; i2 < out_shape[2]; i2++) {
                    const int pad2 = pad1 || i2 < p->before[2] || i2 >= p->before[2] + p->in_shape[2];
                    if (pad2) {
                        memset(out, p->value, row_bytes);
                    } else {
                        const size_t inner = (size_t)p->in_shape[3] * eb;
                        memset(out, p->value, (size_t)p->before[3] * eb);
                        memmove(out + (size_t)p->before[3] * eb, in, inner);
                        in += inner;
                        memset(out + (size_t)p->before[3] * eb + inner, p->value,
                               (size_t)p->after[3] * eb);
                    }
                    out += row_bytes;
                }
            }
        }
    }
}

void tinyops_concat(const void *const *inputs, const int32_t *inner_bytes, int32_t count,
                    int32_t outer, void *output)
{
    uint8_t *out = (uint8_t *)output;
    int32_t o, i;
    for (o = 0; o < outer; o++) {
        for (i = 0; i < count; i++) {
            const uint8_t *in = (const uint8_t *)inputs[i] + (size_t)o * inner_bytes[i];
            memcpy(out, in, (size_t)inner_bytes[i]);
            out += inner_bytes[i];
        }
    }
}

void tinyops_transpose(const tinyops_transpose_params *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t eb = (size_t)p->elem_bytes;
    const int32_t *n = p->out_shape;
    const int32_t *s = p->in_stride;
    int32_t i0, i1, i2, i3, i4, i5;
    for (i0 = 0; i0 < n[0]; i0++) {
        for (i1 = 0; i1 < n[1]; i1++) {
            for (i2 = 0; i2 < n[2]; i2++) {
                for (i3 = 0; i3 < n[3]; i3++) {
                    for (i4 = 0; i4 < n[4]; i4++) {
                        const size_t base = (size_t)i0 * s[0] + (size_t)i1 * s[1] +
                                            (size_t)i2 * s[2] + (size_t)i3 * s[3] +
                                            (size_t)i4 * s[4];
                        for (i5 = 0; i5 < n[5]; i5++) {
                            memcpy(out, in + (base + (size_t)i5 * s[5]) * eb, eb);
                            out += eb;
                        }
                    }
                }
            }
        }
    }
}

void tinyops_resize_nearest_s8(const tinyops_resize_params *p, const int32_t *rows,
                               const int32_t *cols, const int8_t *input, int8_t *output)
{
    const size_t c = (size_t)p->channels;
    int32_t b, y, x;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in = input + (size_t)b * p->in_h * p->in_w * c;
        for (y = 0; y < p->out_h; y++) {
            for (x = 0; x < p->out_w; x++) {
                memcpy(output, in + ((size_t)rows[y] * p->in_w + cols[x]) * c, c);
                output += c;
            }
        }
    }
}
