/* Arm semihosting (BKPT 0xAB on M-profile): enough to print and to end a run with a status. */
#ifndef TINYOPS_SEMIHOST_H
#define TINYOPS_SEMIHOST_H

#include <stdint.h>

#define TINYOPS_EXIT_OK 0
#define TINYOPS_EXIT_MISMATCH 1
#define TINYOPS_EXIT_FAULT 3

#if defined(__arm__)
static inline int tinyops_semihost(int operation, const void *argument) {
    register int r0 __asm__("r0") = operation;
    register const void *r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static inline void tinyops_puts(const char *text) { (void)tinyops_semihost(0x04, text); /* SYS_WRITE0 */ }

__attribute__((noreturn)) static inline void tinyops_exit(int status) {
    /* SYS_EXIT_EXTENDED with ADP_Stopped_ApplicationExit: the status becomes QEMU's exit code. */
    const uint32_t block[2] = {0x20026u, (uint32_t)status};
    (void)tinyops_semihost(0x20, block);
    for (;;) {
    }
}
#else
#include <stdio.h>
#include <stdlib.h>
static inline void tinyops_puts(const char *text) { fputs(text, stdout); }
__attribute__((noreturn)) static inline void tinyops_exit(int status) { exit(status); }
#endif

/* Decimal without printf (newlib's printf would dominate a small firmware's flash). */
static inline void tinyops_put_uint(const char *label, uint32_t value) {
    char text[64];
    int n = 0;
    while (label[n] && n < 48) {
        text[n] = label[n];
        n++;
    }
    char digits[11];
    int d = 0;
    do {
        digits[d++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value);
    while (d) text[n++] = digits[--d];
    text[n++] = '\n';
    text[n] = '\0';
    tinyops_puts(text);
}

#endif
