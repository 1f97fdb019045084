/* Deferred back end: the copy happens in wait, the destination holds poison until then. */
#include <string.h>

#include "tinyops_dma.h"
#include "tinyops_semihost.h"

#define TINYOPS_DMA_SLOTS 8u
#define TINYOPS_DMA_POISON 0x5A

typedef struct {
    uint32_t id;
    uint32_t bytes;
    void *dst;
    const void *src;
    int busy;
} tinyops_deferred_t;

static tinyops_deferred_t slots[TINYOPS_DMA_SLOTS];

void tinyops_dma_init(void) { memset(slots, 0, sizeof slots); }

void tinyops_dma_start(uint32_t id, void *dst, const void *src, uint32_t bytes) {
    for (uint32_t i = 0; i < TINYOPS_DMA_SLOTS; i++) {
        if (!slots[i].busy) {
            slots[i] = (tinyops_deferred_t){id, bytes, dst, src, 1};
            memset(dst, TINYOPS_DMA_POISON, bytes);
            return;
        }
    }
    tinyops_puts("tinyops_dma: too many transfers in flight\n");
    tinyops_exit(TINYOPS_EXIT_FAULT);
}

void tinyops_dma_wait(uint32_t id) {
    for (uint32_t i = 0; i < TINYOPS_DMA_SLOTS; i++) {
        if (slots[i].busy && slots[i].id == id) {
            memcpy(slots[i].dst, slots[i].src, slots[i].bytes);
            slots[i].busy = 0;
            return;
        }
    }
    tinyops_puts("tinyops_dma: wait for a transfer that was not started\n");
    tinyops_exit(TINYOPS_EXIT_FAULT);
}

uint32_t tinyops_dma_pending(void) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < TINYOPS_DMA_SLOTS; i++) n += slots[i].busy ? 1u : 0u;
    return n;
}
