/* ARM PrimeCell PL081 (two channels) as QEMU's mps2-an505 emulates it: DMA0 at the Secure alias
 * 0x50110000. Register layout from the PL080/PL081 TRM (DDI 0218): global registers at 0x000-0x034,
 * channel n at 0x100 + 0x20 n. A transfer is a linked list of items of at most 4095 beats; word
 * beats when source, destination and length are word-aligned, else byte beats. Transfer id picks
 * the channel (id % 2), so two transfers (a double buffer) can be in flight. */
#include "tinyops_dma.h"
#include "tinyops_semihost.h"

#ifndef TINYOPS_PL081_BASE
#define TINYOPS_PL081_BASE 0x50110000u
#endif
#define TINYOPS_PL081_CHANNELS 2u
#define TINYOPS_PL081_MAX_BEATS 4095u
#define TINYOPS_PL081_MAX_ITEMS 64u /* 64 x 4095 words: 1 MiB per transfer */

#define REG(offset) (*(volatile uint32_t *)(TINYOPS_PL081_BASE + (offset)))
#define INT_TC_CLEAR 0x008u
#define INT_ERR_CLEAR 0x010u
#define RAW_INT_ERR 0x018u
#define ENABLED_CHANNELS 0x01Cu
#define CONFIGURATION 0x030u
#define CH(n, offset) (0x100u + 0x20u * (n) + (offset))
#define CH_SRC 0x00u
#define CH_DST 0x04u
#define CH_LLI 0x08u
#define CH_CONTROL 0x0Cu
#define CH_CONFIG 0x10u

typedef struct {
    uint32_t src;
    uint32_t dst;
    uint32_t next;
    uint32_t control;
} pl081_item_t;

static pl081_item_t items[TINYOPS_PL081_CHANNELS][TINYOPS_PL081_MAX_ITEMS] __attribute__((aligned(16)));

void tinyops_dma_init(void) {
    REG(CONFIGURATION) = 1u; /* enable the controller, little-endian masters */
    REG(INT_TC_CLEAR) = 0xFFu;
    REG(INT_ERR_CLEAR) = 0xFFu;
}

static uint32_t control_word(uint32_t beats, uint32_t width_code) {
    /* SWidth/DWidth, source and destination increment; burst size 1. */
    return beats | (width_code << 18) | (width_code << 21) | (1u << 26) | (1u << 27);
}

void tinyops_dma_start(uint32_t id, void *dst, const void *src, uint32_t bytes) {
    uint32_t channel = id % TINYOPS_PL081_CHANNELS;
    uint32_t s = (uint32_t)(uintptr_t)src, d = (uint32_t)(uintptr_t)dst;
    uint32_t words = ((s | d | bytes) & 3u) == 0u;
    uint32_t beat = words ? 4u : 1u;
    uint32_t beats = bytes / beat;
    if (bytes == 0u) return;
    while (REG(ENABLED_CHANNELS) & (1u << channel)) {
    }
    uint32_t n = 0;
    while (beats) {
        if (n == TINYOPS_PL081_MAX_ITEMS) {
            tinyops_puts("tinyops_dma: transfer too long for the PL081 item list\n");
            tinyops_exit(TINYOPS_EXIT_FAULT);
        }
        uint32_t now = beats < TINYOPS_PL081_MAX_BEATS ? beats : TINYOPS_PL081_MAX_BEATS;
        items[channel][n] = (pl081_item_t){s, d, 0u, control_word(now, words ? 2u : 0u)};
        if (n) items[channel][n - 1].next = (uint32_t)(uintptr_t)&items[channel][n];
        s += now * beat;
        d += now * beat;
        beats -= now;
        n++;
    }
    pl081_item_t *first = &items[channel][0];
    REG(CH(channel, CH_SRC)) = first->src;
    REG(CH(channel, CH_DST)) = first->dst;
    REG(CH(channel, CH_LLI)) = first->next;
    REG(CH(channel, CH_CONTROL)) = first->control;
    REG(CH(channel, CH_CONFIG)) = 1u; /* enable; flow control 000 = memory to memory */
}

void tinyops_dma_wait(uint32_t id) {
    uint32_t channel = id % TINYOPS_PL081_CHANNELS;
    while (REG(ENABLED_CHANNELS) & (1u << channel)) {
    }
    if (REG(RAW_INT_ERR) & (1u << channel)) {
        tinyops_puts("tinyops_dma: PL081 transfer error\n");
        tinyops_exit(TINYOPS_EXIT_FAULT);
    }
    REG(INT_TC_CLEAR) = 1u << channel;
}

uint32_t tinyops_dma_pending(void) {
    uint32_t busy = REG(ENABLED_CHANNELS) & ((1u << TINYOPS_PL081_CHANNELS) - 1u);
    return (busy & 1u) + (busy >> 1);
}
