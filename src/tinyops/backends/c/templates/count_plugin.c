/* tinyops instruction and memory-traffic counter: a QEMU TCG plugin (plugin API v1, QEMU 7.x).
 *
 * Debian ships no qemu-plugin.h, so the few API entry points used here are declared below with the
 * signatures of QEMU 7.2's include/qemu/qemu-plugin.h. Counting is per translation block: when a
 * block starts executing, its instruction count is added to the current segment. A segment ends
 * each time the block at the marker address runs (the firmware calls its marker function between
 * ops), so segment k holds the instructions between the k-th and (k+1)-th marker call. Every load
 * and store is attributed to the first address window (lo-hi) that contains it.
 *
 * Arguments: out=FILE marker=ADDR win=NAME:LO:HI (repeatable, hex).
 * Output: one line per segment: "seg INDEX INSNS R0 W0 R1 W1 ..." in window order, then
 * "windows NAME...". Deterministic: no timing, one vCPU.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                                          uint64_t vaddr, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
extern void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                                 enum qemu_plugin_cb_flags flags, void *userdata);
extern void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                             enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw,
                                             void *userdata);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
extern struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
extern unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t info);
extern bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define MAX_WINDOWS 8
#define MAX_SEGMENTS 65536

typedef struct {
    char name[32];
    uint64_t lo, hi;
} window_t;

typedef struct {
    uint64_t insns;
    uint64_t read[MAX_WINDOWS];
    uint64_t written[MAX_WINDOWS];
} segment_t;

static window_t windows[MAX_WINDOWS];
static int n_windows;
static uint64_t marker_addr;
static char out_path[4096];
static segment_t *segments;
static size_t current;  /* saturates at MAX_SEGMENTS - 1 */

static void on_tb_exec(unsigned int vcpu, void *udata) {
    (void)vcpu;
    uintptr_t packed = (uintptr_t)udata;
    if (packed & 1u) {
        if (current + 1 < MAX_SEGMENTS) current++;
    }
    segments[current].insns += packed >> 1;
}

static void on_mem(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata) {
    (void)vcpu;
    (void)udata;
    uint64_t bytes = 1ull << qemu_plugin_mem_size_shift(info);
    for (int i = 0; i < n_windows; i++) {
        if (vaddr >= windows[i].lo && vaddr < windows[i].hi) {
            if (qemu_plugin_mem_is_store(info)) segments[current].written[i] += bytes;
            else segments[current].read[i] += bytes;
            return;
        }
    }
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    uintptr_t is_marker = (qemu_plugin_tb_vaddr(tb) & ~1ull) == marker_addr ? 1u : 0u;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS,
                                         (void *)(((uintptr_t)n << 1) | is_marker));
    if (n_windows == 0) return;
    for (size_t i = 0; i < n; i++) {
        qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i), on_mem, QEMU_PLUGIN_CB_NO_REGS,
                                         QEMU_PLUGIN_MEM_RW, NULL);
    }
}

static void on_exit_cb(qemu_plugin_id_t id, void *udata) {
    (void)id;
    (void)udata;
    FILE *f = fopen(out_path, "w");
    if (!f) return;
    fprintf(f, "windows");
    for (int i = 0; i < n_windows; i++) fprintf(f, " %s", windows[i].name);
    fprintf(f, "\n");
    for (size_t s = 0; s <= current; s++) {
        fprintf(f, "seg %zu %llu", s, (unsigned long long)segments[s].insns);
        for (int i = 0; i < n_windows; i++)
            fprintf(f, " %llu %llu", (unsigned long long)segments[s].read[i],
                    (unsigned long long)segments[s].written[i]);
        fprintf(f, "\n");
    }
    fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv) {
    (void)info;
    segments = calloc(MAX_SEGMENTS, sizeof(segment_t));
    if (!segments) return -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "out=", 4) == 0) {
            snprintf(out_path, sizeof out_path, "%s", a + 4);
        } else if (strncmp(a, "marker=", 7) == 0) {
            marker_addr = strtoull(a + 7, NULL, 16) & ~1ull;
        } else if (strncmp(a, "win=", 4) == 0 && n_windows < MAX_WINDOWS) {
            window_t *w = &windows[n_windows];
            const char *spec = a + 4;
            const char *colon = strchr(spec, ':');
            if (!colon || (size_t)(colon - spec) >= sizeof w->name) return -1;
            memcpy(w->name, spec, (size_t)(colon - spec));
            w->name[colon - spec] = '\0';
            char *end = NULL;
            w->lo = strtoull(colon + 1, &end, 16);
            if (!end || *end != ':') return -1;
            w->hi = strtoull(end + 1, NULL, 16);
            n_windows++;
        } else {
            return -1;
        }
    }
    if (!out_path[0]) return -1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
