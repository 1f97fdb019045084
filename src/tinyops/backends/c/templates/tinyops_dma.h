/* The DMA HAL the generated overlay code calls. One transfer id per plan transfer; a transfer is
 * started before the partition that needs it (possibly while earlier partitions compute) and
 * waited for right before that partition's kernel call.
 *
 * Back ends (one .c file is linked, chosen by the Makefile's DMA variable):
 *   memcpy    copies in tinyops_dma_start (no overlap; the reference behaviour).
 *   deferred  poisons the destination in start and copies only in wait: a missing or misplaced
 *             wait makes the kernel read poison, so outputs go wrong instead of passing by luck.
 *   pl081     ARM PL081 DMA controller (QEMU mps2-an505; QEMU completes a transfer at once).
 *   stm32     DMA2 stream memory-to-memory (STM32F4/F7) or MDMA (STM32H7): compiles for the
 *             board's core; not runnable under QEMU (no STM32 machine emulates these).
 */
#ifndef TINYOPS_DMA_H
#define TINYOPS_DMA_H

#include <stdint.h>

void tinyops_dma_init(void);
void tinyops_dma_start(uint32_t id, void *dst, const void *src, uint32_t bytes);
void tinyops_dma_wait(uint32_t id);
/* Transfers started and not yet waited for (0 after a correct inference). */
uint32_t tinyops_dma_pending(void);

#endif
