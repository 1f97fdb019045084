/* CONV_2D (int8, per-channel) and the matrix core it shares with FULLY_CONNECTED.
 *
 * Work is done two output pixels by two output channels at a time (four accumulators), so each
 * filter and input load feeds two multiply-accumulates. Pixels are first copied to scratch (an
 * im2col window for k x k / strided / padded convolutions, padded taps holding the input zero
 * point since the bias is folded; the plain pixel for 1x1), which is also what makes the
 * pointwise in-place layout safe.
 * DSP path: the two pixels are widened once to halfword pairs, interleaved per four values
 * ([x0(0),x0(2)] [x0(1),x0(3)] [x1(0),x1(2)] [x1(1),x1(3)] ...), the order SXTB16 and its
 * rotated form give the filter bytes, so each group of four values costs two LDRD, two filter
 * LDR, four SXTB16 and eight SMLAD (sixteen MACs).
 */
#include "tinyops_kernels.h"
#include "tinyops_internal.h"

#if TINYOPS_DSP
/* Scratch layout: int8 area of two pixels (2*depth, rounded to 8), then the widened area. */
static int32_t int8_area(int32_t depth)
{
    return (2 * depth + 7) & ~7;
}

static void widen_pair(const int8_t *x0, const int8_t *x1, int32_t depth, int32_t *dst)
{
    int16_t *tail;
    int32_t i;
    for (i = 0; i + 4 <= depth; i += 4) {
        const int32_t a = tinyops_read32(x0 + i), b = tinyops_read32(x1 + i);
        dst[0] = __sxtb16(a);
        dst[1] = tinyops_sxtb16_ror8(a);
        dst[2] = __sxtb16(b);
        dst[3] = tinyops_sxtb16_ror8(b);
        dst += 4;
    }
    tail = (int16_t *)dst;
    for (; i < depth; i++) {
        *tail++ = x0[i];
        *tail++ = x1[i];
    }
}

/* acc[0..3] = (x0.w0, x1.w0, x0.w1, x1.w1) added to their values; w1 = w0 + depth.
 * The loop is written in assembly because it needs all fourteen usable registers (four
 * accumulators, four widened input words, two filter temporaries, four pointers); compiled C
 * spilled two of them inside the loop. 18 instructions per 16 MACs. TINYOPS_NO_ASM or an
 * unoptimized build uses the C loop (same results). */
static inline void dot_wide_2x2(const int32_t *xw, const int8_t *w0, int32_t depth, int32_t *acc)
{
    int32_t a00 = acc[0], a10 = acc[1], a01 = acc[2], a11 = acc[3];
    const int8_t *end = w0 + (depth & ~3);
    const int16_t *tail;
#if defined(__OPTIMIZE__) && !defined(TINYOPS_NO_ASM)
    if (w0 != end) {
        int32_t x0e, x0o, x1e, x1o, wv, t0;
        __asm__ volatile(
            "1:\n\t"
            "ldrd %[x0e], %[x0o], [%[xw]], #8\n\t"
            "ldrd %[x1e], %[x1o], [%[xw]], #8\n\t"
            "ldr %[wv], [%[w], %[depth]]\n\t"
            "sxtb16 %[t0], %[wv]\n\t"
            "sxtb16 %[wv], %[wv], ror #8\n\t"
            "smlad %[a01], %[x0e], %[t0], %[a01]\n\t"
            "smlad %[a11], %[x1e], %[t0], %[a11]\n\t"
            "smlad %[a01], %[x0o], %[wv], %[a01]\n\t"
            "smlad %[a11], %[x1o], %[wv], %[a11]\n\t"
            "ldr %[wv], [%[w]], #4\n\t"
            "sxtb16 %[t0], %[wv]\n\t"
            "sxtb16 %[wv], %[wv], ror #8\n\t"
            "smlad %[a00], %[x0e], %[t0], %[a00]\n\t"
            "smlad %[a10], %[x1e], %[t0], %[a10]\n\t"
            "smlad %[a00], %[x0o], %[wv], %[a00]\n\t"
            "smlad %[a10], %[x1o], %[wv], %[a10]\n\t"
            "cmp %[w], %[end]\n\t"
            "bne 1b\n\t"
            : [a00] "+r"(a00), [a10] "+r"(a10), [a01] "+r"(a01), [a11] "+r"(a11),
              [xw] "+r"(xw), [w] "+r"(w0), [x0e] "=&r"(x0e), [x0o] "=&r"(x0o),
              [x1e] "=&r"(x1e), [x1o] "=&r"(x1o), [wv] "=&r"(wv), [t0] "=&r"(t0)
            : [depth] "r"(depth), [end] "r"(end)
            : "cc", "memory");
    }
#else
    /* Unoptimized builds keep a frame pointer: too few registers for the assembly loop. */
    while (w0 != end) {
        const int32_t wa = tinyops_read32(w0), wb = tinyops_read32(w0 + depth);
        const int32_t wa_e = __sxtb16(wa), wa_o = tinyops_sxtb16_ror8(wa);
        const int32_t wb_e = __sxtb16(wb), wb_o = tinyops_sxtb16_ror8(wb);
        a00 = __smlad(xw[0], wa_e, a00);
        a00 = __smlad(xw[1], wa_o, a00);
        a10 = __smlad(xw[2], wa_e, a10);
        a10 = __smlad(xw[3], wa_o, a10);
        a01 = __smlad(xw[0], wb_e, a01);
        a01 = __smlad(xw[1], wb_o, a01);
        a11 = __smlad(xw[2], wb_e, a11);
        a11 = __smlad(xw[3], wb_o, a11);
        xw += 4;
        w0 += 4;
    }
#endif
    tail = (const int16_t *)xw;
    for (; w0 != end + (depth & 3); w0++, tail += 2) {
        const int32_t wa = w0[0], wb = w0[depth];
        a00 += tail[0] * wa;
        a10 += tail[1] * wa;
        a01 += tail[0] * wb;
        a11 += tail[1] * wb;
    }
    acc[0] = a00;
    acc[1] = a10;
    acc[2] = a01;
    acc[3] = a11;
}

/* One pixel (the first of the widened pair) against two filter rows: acc[0] += x0.w0,
 * acc[2] += x0.w1 (single-row fully connected layers, odd last pixels). */
static inline void dot_wide_1x2(const int32_t *xw, const int8_t *w0, int32_t depth, int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[2];
    const int8_t *end = w0 + (depth & ~3);
    const int16_t *tail;
    while (w0 != end) {
        const int32_t x0e = xw[0], x0o = xw[1];
        const int32_t wa = tinyops_read32(w0), wb = tinyops_read32(w0 + depth);
        a00 = __smlad(x0e, __sxtb16(wa), a00);
        a00 = __smlad(x0o, tinyops_sxtb16_ror8(wa), a00);
        a01 = __smlad(x0e, __sxtb16(wb), a01);
        a01 = __smlad(x0o, tinyops_sxtb16_ror8(wb), a01);
        xw += 4;
        w0 += 4;
    }
    tail = (const int16_t *)xw;
    for (; w0 != end + (depth & 3); w0++, tail += 2) {
        a00 += tail[0] * w0[0];
        a01 += tail[0] * w0[depth];
    }
    acc[0] = a00;
    acc[2] = a01;
}

static inline void dot_wide_2x1(const int32_t *xw, const int8_t *w, int32_t depth, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    const int8_t *end = w + (depth & ~3);
    const int16_t *tail;
    while (w != end) {
        const int32_t wv = tinyops_read32(w);
        const int32_t w_e = __sxtb16(wv), w_o = tinyops_sxtb16_ror8(wv);
        a0 = __smlad(xw[0], w_e, a0);
        a0 = __smlad(xw[1], w_o, a0);
        a1 = __smlad(xw[2], w_e, a1);
        a1 = __smlad(xw[3], w_o, a1);
        xw += 4;
        w += 4;
    }
    tail = (const int16_t *)xw;
    for (; w != end + (depth & 3); w++, tail += 2) {
        a0 += tail[0] * w[0];
        a1 += tail[1] * w[0];
    }
    acc[0] = a0;
    acc[1] = a1;
}
#endif

#if TINYOPS_DSP
/* All channel pairs of a widened pixel pair in one assembly routine (depth a multiple of 4):
 * for pair k, acc0[2k], acc0[2k+1], acc1[2k], acc1[2k+1] = bias + the four dot products, filter
 * rows w[2k], w[2k+1]. The inner loop is dot_wide_2x2's; the channel-pair loop keeps its state
 * in a small stack frame, since the inner loop uses all fourteen registers. */
void tinyops_internal_mac_pairs(const int32_t *xw, const int8_t *w, int32_t depth,
                                const int32_t *bias, int32_t *acc0, int32_t *acc1, int32_t pairs);
__asm__(
    "\t.section .text.tinyops_internal_mac_pairs,\"ax\",%progbits\n"
    "\t.syntax unified\n"
    "\t.thumb\n"
    "\t.align 2\n"
    "\t.global tinyops_internal_mac_pairs\n"
    "\t.thumb_func\n"
    "\t.type tinyops_internal_mac_pairs, %function\n"
    "tinyops_internal_mac_pairs:\n"
    "\tpush {r4-r11, lr}\n"
    "\tsub sp, sp, #20\n"
    "\tstr r0, [sp, #0]\n"          /* xw of the pair */
    "\tstr r3, [sp, #4]\n"          /* bias, advancing */
    "\tldr r12, [sp, #56]\n"
    "\tstr r12, [sp, #8]\n"         /* acc0, advancing */
    "\tldr r12, [sp, #60]\n"
    "\tstr r12, [sp, #12]\n"        /* acc1, advancing */
    "1:\n"
    "\tldr r0, [sp, #0]\n"
    "\tldr r12, [sp, #4]\n"
    "\tldrd r4, r6, [r12], #8\n"
    "\tstr r12, [sp, #4]\n"
    "\tmov r5, r4\n"
    "\tmov r7, r6\n"
    "\tadd r3, r1, r2\n"
    "2:\n"
    "\tldrd r8, r9, [r0], #8\n"
    "\tldrd r10, r11, [r0], #8\n"
    "\tldr r12, [r1, r2]\n"
    "\tsxtb16 lr, r12\n"
    "\tsxtb16 r12, r12, ror #8\n"
    "\tsmlad r6, r8, lr, r6\n"
    "\tsmlad r7, r10, lr, r7\n"
    "\tsmlad r6, r9, r12, r6\n"
    "\tsmlad r7, r11, r12, r7\n"
    "\tldr r12, [r1], #4\n"
    "\tsxtb16 lr, r12\n"
    "\tsxtb16 r12, r12, ror #8\n"
    "\tsmlad r4, r8, lr, r4\n"
    "\tsmlad r5, r10, lr, r5\n"
    "\tsmlad r4, r9, r12, r4\n"
    "\tsmlad r5, r11, r12, r5\n"
    "\tcmp r1, r3\n"
    "\tbne 2b\n"
    "\tldr r12, [sp, #8]\n"
    "\tstrd r4, r6, [r12], #8\n"
    "\tstr r12, [sp, #8]\n"
    "\tldr r12, [sp, #12]\n"
    "\tstrd r5, r7, [r12], #8\n"
    "\tstr r12, [sp, #12]\n"
    "\tadd r1, r1, r2\n"            /* skip the second row of the pair */
    "\tldr r12, [sp, #64]\n"
    "\tsubs r12, r12, #1\n"
    "\tstr r12, [sp, #64]\n"
    "\tbne 1b\n"
    "\tadd sp, sp, #20\n"
    "\tpop {r4-r11, pc}\n"
    "\t.size tinyops_internal_mac_pairs, .-tinyops_internal_mac_pairs\n"
    "\t.text\n");

/* Requantize the accumulators of channels oc..oc+n-1 of one or two pixels (acc1/dst1 NULL: one)
 * into dst0/dst1. A loop of its own: the multiply-accumulate phase needs every register, and
 * mixing the two made gcc spill both. Channel-major, so each channel's rescale is set up once;
 * the common case (small accumulators, right shift) has a loop of its own. */
__attribute__((noinline)) static void requant_general(const int32_t *acc0, const int32_t *acc1,
                                                     int32_t n, const tinyops_stage *st,
                                                     int32_t oc, int8_t *dst0, int8_t *dst1)
{
    const int32_t *mult = st->mult + oc, *shift = st->shift + oc;
    const int32_t zp = st->out_zp, lo = st->act_min, hi = st->act_max, small = st->acc_small;
    int32_t i;
    for (i = 0; i < n; i++) {
        dst0[i] = tinyops_out8(acc0[i], mult[i], shift[i], small, zp, lo, hi);
        if (dst1 != NULL) {
            dst1[i] = tinyops_out8(acc1[i], mult[i], shift[i], small, zp, lo, hi);
        }
    }
}

__attribute__((noinline)) static void requant_channels(const int32_t *acc0, const int32_t *acc1,
                                                      int32_t n, const tinyops_stage *st,
                                                      int32_t oc, int8_t *dst0, int8_t *dst1)
{
    const int32_t *mult = st->mult + oc, *shift = st->shift + oc;
    const int32_t zp = st->out_zp, lo = st->act_min, hi = st->act_max;
    int32_t i;
    if (!st->acc_small || dst1 == NULL) {
        requant_general(acc0, acc1, n, st, oc, dst0, dst1);
        return;
    }
#define TINYOPS_REQUANT_PAIRS(CLAMP)                                                       \
    for (i = 0; i < n; i++) {                                                              \
        const int32_t m = mult[i], s = shift[i];                                           \
        if (__builtin_expect(s < 0, 1)) {                                                  \
            const int32_t right = -s, half = 1 << (right - 1);                             \
            int32_t h0, h1;                                                                \
            __asm__("smmulr %0, %1, %2" : "=r"(h0) : "r"(acc0[i] * 2), "r"(m));            \
            __asm__("smmulr %0, %1, %2" : "=r"(h1) : "r"(acc1[i] * 2), "r"(m));            \
            h0 = (h0 + half - (int32_t)((uint32_t)h0 >> 31)) >> right;                     \
            h1 = (h1 + half - (int32_t)((uint32_t)h1 >> 31)) >> right;                     \
            dst0[i] = (int8_t)CLAMP(h0 + zp);                                              \
            dst1[i] = (int8_t)CLAMP(h1 + zp);                                              \
        } else {                                                                           \
            requant_general(acc0 + i, acc1 + i, 1, st, oc + i, dst0 + i, dst1 + i);        \
        }                                                                                  \
    }
#define TINYOPS_SAT8(x) __ssat((x), 8)
#define TINYOPS_CLAMP(x) tinyops_clamp((x), lo, hi)
    if (lo == -128 && hi == 127) { /* the clamp is a saturation: one SSAT */
        TINYOPS_REQUANT_PAIRS(TINYOPS_SAT8)
    } else {
        TINYOPS_REQUANT_PAIRS(TINYOPS_CLAMP)
    }
#undef TINYOPS_SAT8
#undef TINYOPS_CLAMP
#undef TINYOPS_REQUANT_PAIRS
}

/* DSP: output channels oc_start..oc_stop-1 of the widened pixel pair xw (out1 NULL: one pixel),
 * accumulators first (acc: 2 * (oc_stop - oc_start) words), then the requantization. */
static void two_pixels(const int32_t *xw, int32_t depth, const int8_t *filter,
                       const tinyops_stage *st, int8_t *out0, int8_t *out1, int32_t oc_start,
                       int32_t oc_stop, int32_t *acc)
{
    const int32_t n = oc_stop - oc_start;
    const int32_t *bias = st->bias + oc_start;
    int32_t *acc0 = acc, *acc1 = acc + n;
    const int8_t *w = filter;
    int32_t k = 0;
    if (out1 != NULL && depth >= 4 && (depth & 3) == 0 && n >= 2) {
        tinyops_internal_mac_pairs(xw, w, depth, bias, acc0, acc1, n / 2);
        k = n & ~1;
        w += (size_t)k * depth;
    }
    for (; k + 2 <= n; k += 2, w += 2 * depth) {
        int32_t a[4];
        a[0] = a[1] = bias[k];
        a[2] = a[3] = bias[k + 1];
        if (out1 != NULL) {
            dot_wide_2x2(xw, w, depth, a);
        } else {
            dot_wide_1x2(xw, w, depth, a);
        }
        acc0[k] = a[0];
        acc0[k + 1] = a[2];
        acc1[k] = a[1];
        acc1[k + 1] = a[3];
    }
    if (k < n) {
        int32_t a[2];
        a[0] = a[1] = bias[k];
        dot_wide_2x1(xw, w, depth, a);
        acc0[k] = a[0];
        acc1[k] = a[1];
    }
    requant_channels(acc0, acc1, n, st, oc_start, out0 + oc_start,
                     out1 != NULL ? out1 + oc_start : NULL);
}
#else
/* Portable: output channels oc_start..oc_stop-1 of pixels x0 and x1 (x1 == x0 when out1 is
 * NULL), two channels at a time. */
static void two_pixels(const int8_t *x0, const int8_t *x1, int32_t depth, const int8_t *filter,
                       const tinyops_stage *st, int8_t *out0, int8_t *out1, int32_t oc_start,
                       int32_t oc_stop)
{
    const int32_t *bias = st->bias, *mult = st->mult, *shift = st->shift;
    const int32_t zp = st->out_zp, lo = st->act_min, hi = st->act_max;
    const int8_t *w = filter;
    int32_t oc = oc_start;
    for (; oc + 2 <= oc_stop; oc += 2, w += 2 * depth) {
        const int32_t m0 = mult[oc], s0 = shift[oc], m1 = mult[oc + 1], s1 = shift[oc + 1];
        const int8_t *wb = w + depth;
        int32_t a00 = bias[oc], a10 = bias[oc], a01 = bias[oc + 1], a11 = bias[oc + 1];
        int32_t i;
        for (i = 0; i < depth; i++) {
            const int32_t va = x0[i], vb = x1[i], wa = w[i], wv = wb[i];
            a00 += va * wa;
            a10 += vb * wa;
            a01 += va * wv;
            a11 += vb * wv;
        }
        out0[oc] = tinyops_out8(a00, m0, s0, 0, zp, lo, hi);
        out0[oc + 1] = tinyops_out8(a01, m1, s1, 0, zp, lo, hi);
        if (out1 != NULL) {
            out1[oc] = tinyops_out8(a10, m0, s0, 0, zp, lo, hi);
            out1[oc + 1] = tinyops_out8(a11, m1, s1, 0, zp, lo, hi);
        }
    }
    if (oc < oc_stop) {
        int32_t a0 = bias[oc], a1 = bias[oc], i;
        for (i = 0; i < depth; i++) {
            a0 += x0[i] * w[i];
            a1 += x1[i] * w[i];
        }
        out0[oc] = tinyops_out8(a0, mult[oc], shift[oc], 0, zp, lo, hi);
        if (out1 != NULL) {
            out1[oc] = tinyops_out8(a1, mult[oc], shift[oc], 0, zp, lo, hi);
        }
    }
}
#endif

/* Copies (portable) or widens (DSP) the two input vectors into scratch, then computes them.
 * Scratch: int8 area (2*depth rounded to 8), widened area (4*depth), accumulators (2*channels
 * words); see matrix_scratch_bytes in kernels/tinyops_scratch.py. */
static void staged_pair(const int8_t *x0, const int8_t *x1, int32_t depth, const int8_t *filter,
                        const tinyops_stage *st, int8_t *out0, int8_t *out1, uint8_t *scratch,
                        int32_t oc_start, int32_t oc_stop, int copy)
{
#if TINYOPS_DSP
    int32_t *wide = (int32_t *)(void *)(scratch + int8_area(depth));
    (void)copy;
    widen_pair(x0, x1, depth, wide);
    two_pixels(wide, depth, filter, st, out0, out1, oc_start, oc_stop, wide + depth);
#else
    int8_t *cols = (int8_t *)scratch;
    if (copy) {
        memcpy(cols, x0, (size_t)depth);
        if (x1 != x0) {
            memcpy(cols + depth, x1, (size_t)depth);
        }
        x1 = x1 != x0 ? cols + depth : cols;
        x0 = cols;
    }
    two_pixels(x0, x1, depth, filter, st, out0, out1, oc_start, oc_stop);
#endif
}

static int overlaps(const void *a, size_t a_bytes, const void *b, size_t b_bytes)
{
    const uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    return a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

void tinyops_internal_rows_s8(int32_t rows, int32_t depth, int32_t units, const int8_t *input,
                              const int8_t *filter, const tinyops_stage *st, int8_t *output,
                              void *scratch, int32_t oc_start, int32_t oc_stop)
{
    const int in_place = overlaps(input, (size_t)rows * depth, output, (size_t)rows * units);
    /* In place, outputs wider than inputs walk backward (see the header). */
    const int backward = in_place && units > depth;
    int32_t done = 0;
    while (done < rows) {
        const int32_t count = rows - done >= 2 ? 2 : 1;
        const int32_t first = backward ? rows - done - count : done;
        const int8_t *x0 = input + (size_t)first * depth;
        int8_t *out0 = output + (size_t)first * units;
        staged_pair(x0, count == 2 ? x0 + depth : x0, depth, filter, st, out0,
                    count == 2 ? out0 + units : NULL, (uint8_t *)scratch, oc_start, oc_stop,
                    in_place);
        done += count;
    }
}

/* memcpy for runs too short to repay a library call (3-channel input layers copy 3 bytes). */
static inline void copy_run(int8_t *dst, const int8_t *src, size_t n)
{
    if (n >= 32) {
        memcpy(dst, src, n);
        return;
    }
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        const int32_t word = tinyops_read32(src);
        memcpy(dst, &word, sizeof(word));
    }
    for (; n > 0; n--) {
        *dst++ = *src++;
    }
}

/* The k_h x k_w x in_c window of output pixel (oy, ox), padded taps set to the zero point. A
 * window row wholly inside the input (no dilation) is one run of k_w * in_c bytes. */
static void im2col_pixel(const tinyops_conv_params *p, const int8_t *in, int32_t oy, int32_t ox,
                         int8_t *dst)
{
    const size_t c = (size_t)p->in_c;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int32_t ix_last = ix0 + (p->k_w - 1) * p->dil_w;
    const int row_inside = p->dil_w == 1 && ix0 >= 0 && ix_last < p->in_w;
    int32_t ky, kx;
    for (ky = 0; ky < p->k_h; ky++) {
        const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h) {
            memset(dst, p->in_zp, c * (size_t)p->k_w);
            dst += c * (size_t)p->k_w;
            continue;
        }
        if (row_inside) {
            copy_run(dst, in + ((size_t)iy * p->in_w + ix0) * c, c * (size_t)p->k_w);
            dst += c * (size_t)p->k_w;
            continue;
        }
        for (kx = 0; kx < p->k_w; kx++) {
            const int32_t ix = ix0 + kx * p->dil_w;
            if (ix < 0 || ix >= p->in_w) {
                memset(dst, p->in_zp, c);
            } else {
                copy_run(dst, in + ((size_t)iy * p->in_w + ix) * c, c);
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
    const tinyops_stage st = {bias, mult, shift, p->out_zp, p->act_min, p->act_max, p->acc_small};
    int8_t *cols = (int8_t *)scratch;
    int32_t b, i;
    if (pointwise) {
        tinyops_internal_rows_s8(p->batches * pixels, depth, p->out_c, input, filter, &st, output,
                                 scratch, oc_start, oc_stop);
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
            staged_pair(cols, two ? cols + depth : cols, depth, filter, &st,
                        out + (size_t)i * p->out_c, two ? out + (size_t)(i + 1) * p->out_c : NULL,
                        (uint8_t *)scratch, oc_start, oc_stop, 0);
        }
    }
}
