/* CONV_2D (int8, per-channel) and the matrix core it shares with FULLY_CONNECTED.
 *
 * Work is done two output pixels by two output channels at a time (four accumulators), so each
 * filter and input load feeds two multiply-accumulates; the DSP path turns four int8 pairs into
 * halfword pairs with SXTB16 and accumulates them with SMLAD (two MACs per instruction).
 * Pixels that need gathering (k x k windows, strides, padding) are copied into an im2col scratch
 * of two pixels, padded taps holding the input zero point (the bias is folded, see the header).
 */
#include "tinyops_kernels.h"
#include "tinyops_internal.h"

static inline void store(int8_t *out, int32_t acc, int32_t mult, int32_t shift, int32_t out_zp,
                         int32_t act_min, int32_t act_max)
{
    *out = (int8_t)tinyops_clamp(tinyops_requant(acc, mult, shift) + out_zp, act_min, act_max);
}

/* acc[0..3] += (x0.w0, x1.w0, x0.w1, x1.w1) over depth values. */
static inline void dot_2x2(const int8_t *x0, const int8_t *x1, const int8_t *w0, const int8_t *w1,
                           int32_t depth, int32_t *acc)
{
    int32_t a00 = acc[0], a10 = acc[1], a01 = acc[2], a11 = acc[3];
    int32_t i = 0;
#if TINYOPS_DSP
    for (; i + 4 <= depth; i += 4) {
        const int32_t xa = tinyops_read32(x0 + i), xb = tinyops_read32(x1 + i);
        const int32_t wa = tinyops_read32(w0 + i), wb = tinyops_read32(w1 + i);
        const int32_t xa_even = __sxtb16(xa), xa_odd = tinyops_sxtb16_ror8(xa);
        const int32_t xb_even = __sxtb16(xb), xb_odd = tinyops_sxtb16_ror8(xb);
        const int32_t wa_even = __sxtb16(wa), wa_odd = tinyops_sxtb16_ror8(wa);
        const int32_t wb_even = __sxtb16(wb), wb_odd = tinyops_sxtb16_ror8(wb);
        a00 = __smlad(xa_even, wa_even, a00);
        a00 = __smlad(xa_odd, wa_odd, a00);
        a10 = __smlad(xb_even, wa_even, a10);
        a10 = __smlad(xb_odd, wa_odd, a10);
        a01 = __smlad(xa_even, wb_even, a01);
        a01 = __smlad(xa_odd, wb_odd, a01);
        a11 = __smlad(xb_even, wb_even, a11);
        a11 = __smlad(xb_odd, wb_odd, a11);
    }
#endif
    for (; i < depth; i++) {
        const int32_t va = x0[i], vb = x1[i], wa = w0[i], wb = w1[i];
        a00 += va * wa;
        a10 += vb * wa;
        a01 += va * wb;
        a11 += vb * wb;
    }
    acc[0] = a00;
    acc[1] = a10;
    acc[2] = a01;
    acc[3] = a11;
}

/* acc[0..1] += (x0.w, x1.w). */
static inline void dot_2x1(const int8_t *x0, const int8_t *x1, const int8_t *w, int32_t depth,
                           int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    int32_t i = 0;
#if TINYOPS_DSP
    for (; i + 4 <= depth; i += 4) {
        const int32_t xa = tinyops_read32(x0 + i), xb = tinyops_read32(x1 + i);
        const int32_t wv = tinyops_read32(w + i);
        const int32_t w_even = __sxtb16(wv), w_odd = tinyops_sxtb16_ror8(wv);
        a0 = __smlad(__sxtb16(xa), w_even, a0);
        a0 = __smlad(tinyops_sxtb16_ror8(xa), w_odd, a0);
        a1 = __smlad(__sxtb16(xb), w_even, a1);
        a1 = __smlad(tinyops_sxtb16_ror8(xb), w_odd, a1);
    }
#endif
    for (; i < depth; i++) {
        const int32_t wv = w[i];
        a0 += x0[i] * wv;
        a1 += x1[i] * wv;
    }
    acc[0] = a0;
    acc[1] = a1;
}

void tinyops_internal_pixels_s8(const int8_t *x0, const int8_t *x1, int32_t depth,
                                const int8_t *filter, const int32_t *bias, const int32_t *mult,
                                const int32_t *shift, int8_t *out0, int8_t *out1,
                                int32_t oc_start, int32_t oc_stop, int32_t out_zp,
                                int32_t act_min, int32_t act_max)
{
    const int8_t *w = filter;
    int32_t oc = oc_start;
    for (; oc + 2 <= oc_stop; oc += 2, w += 2 * depth) {
        int32_t acc[4];
        acc[0] = acc[1] = bias[oc];
        acc[2] = acc[3] = bias[oc + 1];
        dot_2x2(x0, x1, w, w + depth, depth, acc);
        store(out0 + oc, acc[0], mult[oc], shift[oc], out_zp, act_min, act_max);
        store(out0 + oc + 1, acc[2], mult[oc + 1], shift[oc + 1], out_zp, act_min, act_max);
        if (out1 != NULL) {
            store(out1 + oc, acc[1], mult[oc], shift[oc], out_zp, act_min, act_max);
            store(out1 + oc + 1, acc[3], mult[oc + 1], shift[oc + 1], out_zp, act_min, act_max);
        }
    }
    if (oc < oc_stop) {
        int32_t acc[2];
        acc[0] = acc[1] = bias[oc];
        dot_2x1(x0, x1, w, depth, acc);
        store(out0 + oc, acc[0], mult[oc], shift[oc], out_zp, act_min, act_max);
        if (out1 != NULL) {
            store(out1 + oc, acc[1], mult[oc], shift[oc], out_zp, act_min, act_max);
        }
    }
}

static int overlaps(const void *a, size_t a_bytes, const void *b, size_t b_bytes)
{
    const uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    return a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

void tinyops_internal_rows_s8(int32_t rows, int32_t depth, int32_t units, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, const int32_t *mult,
                              const int32_t *shift, int8_t *output, int8_t *scratch,
                              int32_t oc_start, int32_t oc_stop, int32_t out_zp,
                              int32_t act_min, int32_t act_max)
{
    const int in_place = overlaps(input, (size_t)rows * depth, output, (size_t)rows * units);
    /* In place, outputs wider than inputs walk backward (see the header). */
    const int backward = in_place && units > depth;
    int32_t done = 0;
    while (done < rows) {
        const int32_t count = rows - done >= 2 ? 2 : 1;
        const int32_t first = backward ? rows - done - count : done;
        const int8_t *x0 = input + (size_t)first * depth;
        const int8_t *x1 = count == 2 ? x0 + depth : x0;
        int8_t *out0 = output + (size_t)first * units;
        if (in_place) {
            memcpy(scratch, x0, (size_t)count * depth);
            x0 = scratch;
            x1 = count == 2 ? scratch + depth : scratch;
        }
        tinyops_internal_pixels_s8(x0, x1, depth, filter, bias, mult, shift, out0,
                                   count == 2 ? out0 + units : NULL, oc_start, oc_stop, out_zp,
                                   act_min, act_max);
        done += count;
    }
}

/* The k_h x k_w x in_c window of output pixel (oy, ox), padded taps set to the zero point. */
static void im2col_pixel(const tinyops_conv_params *p, const int8_t *in, int32_t oy, int32_t ox,
                         int8_t *dst)
{
    const size_t c = (size_t)p->in_c;
    int32_t ky, kx;
    for (ky = 0; ky < p->k_h; ky++) {
        const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
        for (kx = 0; kx < p->k_w; kx++) {
            const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
                memset(dst, p->in_zp, c);
            } else {
                memcpy(dst, in + ((size_t)iy * p->in_w + ix) * c, c);
            }
            dst += c;
        }
    }
}

void tinyops_conv_s8(const tinyops_conv_params *p, const int8_t *input, const int8_t *filter,
                     const int32_t *bias, const int32_t *mult, const int32_t *shift,
                     int8_t *output, void *scratch, int32_t oc_start, int32_t oc_stop)
{
    const int32_t depth = p->k_h * p->k_w * p->in_c;
    const int32_t pixels = p->out_h * p->out_w;
    const int pointwise = p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                          p->pad_top == 0 && p->pad_left == 0 && p->out_h == p->in_h &&
                          p->out_w == p->in_w;
    int8_t *cols = (int8_t *)scratch;
    int32_t b, i;
    if (pointwise) {
        tinyops_internal_rows_s8(p->batches * pixels, depth, p->out_c, input, filter, bias, mult,
                                 shift, output, cols, oc_start, oc_stop, p->out_zp, p->act_min,
                                 p->act_max);
        return;
    }
    for (b = 0; b < p->batches; b++) {
        const int8_t *in = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        int8_t *out = output + (size_t)b * pixels * p->out_c;
        for (i = 0; i < pixels; i += 2) {
            const int two = i + 1 < pixels;
            im2col_pixel(p, in, i / p->out_w, i % p->out_w, cols);
            if (two) {
                im2col_pixel(p, in, (i + 1) / p->out_w, (i + 1) % p->out_w, cols + depth);
            }
            tinyops_internal_pixels_s8(cols, two ? cols + depth : cols, depth, filter, bias, mult,
                                       shift, out + (size_t)i * p->out_c,
                                       two ? out + (size_t)(i + 1) * p->out_c : NULL, oc_start,
                                       oc_stop, p->out_zp, p->act_min, p->act_max);
        }
    }
}
