/* Reset handler and vector table for a bare Cortex-M (no vendor start-up code needed).
 * Copies .data, zeroes .bss, copies the weights that live in external RAM (.sdram) from their load
 * address, enables the FPU when the build uses one, runs main() and reports its status through
 * semihosting (QEMU turns it into its exit code; on a board without a debugger the core halts). */
#include <stdint.h>
#include <string.h>

#include "tinyops_semihost.h"

extern uint8_t __data_load[], __data_start[], __data_end[];
extern uint8_t __bss_start[], __bss_end[];
extern uint8_t __sdram_load[], __sdram_start[], __sdram_end[];
extern uint8_t __stack_top[], __stack_bottom[];

#define TINYOPS_STACK_PAINT 0xCDCDCDCDu

int main(void);

void tinyops_reset_handler(void);
void tinyops_fault_handler(void);
uint32_t tinyops_stack_used(void);

/* Paint the stack below the current frame so the harness can report the deepest use. */
static void paint_stack(void) {
    uint32_t *p = (uint32_t *)(void *)__stack_bottom;
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    while (p < sp - 16) *p++ = TINYOPS_STACK_PAINT;
}

uint32_t tinyops_stack_used(void) {
    const uint32_t *p = (const uint32_t *)(void *)__stack_bottom;
    while ((const uint8_t *)p < __stack_top && *p == TINYOPS_STACK_PAINT) p++;
    return (uint32_t)(__stack_top - (const uint8_t *)p);
}

void tinyops_reset_handler(void) {
    memcpy(__data_start, __data_load, (size_t)(__data_end - __data_start));
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    paint_stack();
    if (&__sdram_end[0] != &__sdram_start[0]) {
        memcpy(__sdram_start, __sdram_load, (size_t)(__sdram_end - __sdram_start));
    }
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CPACR: full access to CP10/CP11 (FPU, MVE) before any floating-point instruction runs. */
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
    tinyops_exit(main());
}

void tinyops_fault_handler(void) {
    tinyops_puts("tinyops: fault\n");
    tinyops_exit(TINYOPS_EXIT_FAULT);
}

typedef void (*tinyops_vector_t)(void);

__attribute__((section(".vectors"), used)) const tinyops_vector_t tinyops_vectors[16] = {
    (tinyops_vector_t)(uintptr_t)__stack_top,
    tinyops_reset_handler,
    tinyops_fault_handler, /* NMI */
    tinyops_fault_handler, /* HardFault */
    tinyops_fault_handler, /* MemManage */
    tinyops_fault_handler, /* BusFault */
    tinyops_fault_handler, /* UsageFault */
    tinyops_fault_handler, /* SecureFault (v8-M) */
    0, 0, 0,
    tinyops_fault_handler, /* SVCall */
    tinyops_fault_handler, /* DebugMonitor */
    0,
    tinyops_fault_handler, /* PendSV */
    tinyops_fault_handler, /* SysTick */
};
