/* STM32 back end (compiles for the board's core; cannot run under QEMU, which emulates neither).
 *
 * STM32F4/F7: only DMA2 does memory-to-memory transfers (RM0090 / RM0385, "DMA controller"). In that
 * mode the peripheral port is the source (SxPAR) and the memory port the destination (SxM0AR), the
 * FIFO must be on (DMDIS), NDTR counts source items (at most 65535). Streams 0 and 1 serve
 * transfer ids with even and odd numbers. Build with -DTINYOPS_STM32_H7 for STM32H7, whose
 * memory-to-memory engine is the MDMA (RM0433 "MDMA"): block transfers of up to 65536 bytes
 * (CBNDTR.BNDT), software-triggered (CCR.SWRQ), channels 0 and 1.
 * Caches: a DMA engine does not see the Cortex-M7 L1 D-cache. When the cache is on (SCB CCR.DC), the
 * start cleans the source range (data the CPU wrote must reach memory before the DMA reads it) and
 * cleans+invalidates the destination (no dirty line may later overwrite what the DMA writes); the
 * wait invalidates the destination again (the core may have fetched lines speculatively meanwhile).
 * DTCM is outside the cache and skipped. The cost model charges the same passes
 * (cost/memory_model.dma_cpu_cycles). Larger transfers are split into chunks, one started after
 * the other in tinyops_dma_wait. */
#include "tinyops_dma.h"
#include "tinyops_semihost.h"

#define REG32(address) (*(volatile uint32_t *)(address))

typedef struct {
    uint32_t dst;
    uint32_t src;
    uint32_t left;
    uint32_t id;
    int busy;
    uint32_t first_dst;  /* the whole destination, for the invalidation at the wait */
    uint32_t total;
} stm32_job_t;

static stm32_job_t jobs[2];

/* ARMv7-M system control block: CCR.DC (bit 16) says the D-cache is on (reads as zero on cores
 * without one); DCIMVAC / DCCMVAC / DCCIMVAC invalidate / clean / clean+invalidate one line by
 * address; DTCMCR gives the DTCM's size (Cortex-M7 TRM, "Cache maintenance operations", "TCM"). */
#define SCB_CCR 0xE000ED14u
#define SCB_DCIMVAC 0xE000EF5Cu
#define SCB_DCCMVAC 0xE000EF68u
#define SCB_DCCIMVAC 0xE000EF70u
#define SCB_DTCMCR 0xE000EF94u
#define DTCM_BASE 0x20000000u
#define DCACHE_LINE_BYTES 32u

static int dcache_holds(uint32_t address, uint32_t bytes) {
    if (!bytes || !(REG32(SCB_CCR) & (1u << 16))) return 0;
    uint32_t dtcmcr = REG32(SCB_DTCMCR);
    uint32_t size_code = (dtcmcr >> 3) & 0xFu;
    uint32_t dtcm_bytes = ((dtcmcr & 1u) && size_code >= 3u) ? (1024u << (size_code - 1u)) : 0u;
    return !(address >= DTCM_BASE && address - DTCM_BASE + bytes <= dtcm_bytes);
}

static void dcache_by_address(uint32_t operation, uint32_t address, uint32_t bytes) {
    if (!dcache_holds(address, bytes)) return;
    __asm volatile("dsb 0xF" ::: "memory");
    for (uint32_t line = address & ~(DCACHE_LINE_BYTES - 1u); line < address + bytes; line += DCACHE_LINE_BYTES) {
        REG32(operation) = line;
    }
    __asm volatile("dsb 0xF\n\tisb 0xF" ::: "memory");
}

#if defined(TINYOPS_STM32_H7)
#define MDMA_BASE 0x52000000u
#define RCC_AHB3ENR 0x580244D4u
#define MDMA_CH(n, offset) (MDMA_BASE + 0x40u + 0x40u * (n) + (offset))
#define CISR 0x00u
#define CIFCR 0x04u
#define CCR 0x0Cu
#define CTCR 0x10u
#define CBNDTR 0x14u
#define CSAR 0x18u
#define CDAR 0x1Cu
#define CLAR 0x24u
#define CTBR 0x28u
#define MAX_CHUNK 65536u

void tinyops_dma_init(void) { REG32(RCC_AHB3ENR) |= 1u; /* MDMAEN */ }

static void kick(uint32_t n) {
    stm32_job_t *job = &jobs[n];
    uint32_t now = job->left < MAX_CHUNK ? job->left : MAX_CHUNK;
    REG32(MDMA_CH(n, CCR)) = 0u;
    REG32(MDMA_CH(n, CIFCR)) = 0x1Fu;
    /* SWRM software request, TRGM=01 block, byte size/increment on both sides, TLEN=0 (1 byte). */
    REG32(MDMA_CH(n, CTCR)) = (1u << 30) | (1u << 28) | (2u << 2) | (2u << 0);
    REG32(MDMA_CH(n, CBNDTR)) = now;
    REG32(MDMA_CH(n, CSAR)) = job->src;
    REG32(MDMA_CH(n, CDAR)) = job->dst;
    REG32(MDMA_CH(n, CLAR)) = 0u;
    REG32(MDMA_CH(n, CTBR)) = 0u;
    REG32(MDMA_CH(n, CCR)) = 1u;            /* EN */
    REG32(MDMA_CH(n, CCR)) = 1u | (1u << 16); /* SWRQ */
    job->src += now;
    job->dst += now;
    job->left -= now;
}

static int done(uint32_t n) { return (REG32(MDMA_CH(n, CISR)) & (1u << 1)) != 0u; /* BTIF */ }
#else
#define DMA2_BASE 0x40026400u
#define RCC_AHB1ENR 0x40023830u
#define STREAM(n, offset) (DMA2_BASE + 0x10u + 0x18u * (n) + (offset))
#define SxCR 0x00u
#define SxNDTR 0x04u
#define SxPAR 0x08u
#define SxM0AR 0x0Cu
#define SxFCR 0x14u
#define LISR (DMA2_BASE + 0x00u)
#define LIFCR (DMA2_BASE + 0x08u)
#define MAX_CHUNK 65535u

static const uint32_t tc_flag[2] = {1u << 5, 1u << 11};
static const uint32_t all_flags[2] = {0x3Du, 0x3Du << 6};

void tinyops_dma_init(void) { REG32(RCC_AHB1ENR) |= 1u << 22; /* DMA2EN */ }

static void kick(uint32_t n) {
    stm32_job_t *job = &jobs[n];
    uint32_t now = job->left < MAX_CHUNK ? job->left : MAX_CHUNK;
    REG32(STREAM(n, SxCR)) = 0u;
    while (REG32(STREAM(n, SxCR)) & 1u) {
    }
    REG32(LIFCR) = all_flags[n];
    REG32(STREAM(n, SxPAR)) = job->src;
    REG32(STREAM(n, SxM0AR)) = job->dst;
    REG32(STREAM(n, SxNDTR)) = now;
    REG32(STREAM(n, SxFCR)) = (1u << 2) | 3u; /* DMDIS, full FIFO threshold */
    /* DIR=10 memory-to-memory, PINC, MINC, byte sizes, channel 0, then EN. */
    REG32(STREAM(n, SxCR)) = (2u << 6) | (1u << 9) | (1u << 10);
    REG32(STREAM(n, SxCR)) |= 1u;
    job->src += now;
    job->dst += now;
    job->left -= now;
}

static int done(uint32_t n) { return (REG32(LISR) & tc_flag[n]) != 0u; }
#endif

void tinyops_dma_start(uint32_t id, void *dst, const void *src, uint32_t bytes) {
    uint32_t n = id & 1u;
    if (jobs[n].busy) tinyops_dma_wait(jobs[n].id);
    jobs[n] = (stm32_job_t){(uint32_t)(uintptr_t)dst, (uint32_t)(uintptr_t)src, bytes, id, 1,
                            (uint32_t)(uintptr_t)dst, bytes};
    dcache_by_address(SCB_DCCMVAC, jobs[n].src, bytes);
    dcache_by_address(SCB_DCCIMVAC, jobs[n].dst, bytes);
    if (bytes) kick(n);
}

void tinyops_dma_wait(uint32_t id) {
    uint32_t n = id & 1u;
    if (!jobs[n].busy || jobs[n].id != id) {
        tinyops_puts("tinyops_dma: wait for a transfer that was not started\n");
        tinyops_exit(TINYOPS_EXIT_FAULT);
    }
    for (;;) {
        while (!done(n)) {
        }
        if (!jobs[n].left) break;
        kick(n);
    }
    dcache_by_address(SCB_DCIMVAC, jobs[n].first_dst, jobs[n].total);
    jobs[n].busy = 0;
}

uint32_t tinyops_dma_pending(void) { return (uint32_t)(jobs[0].busy + jobs[1].busy); }
