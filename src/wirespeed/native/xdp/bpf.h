/* xdp/bpf.h - the bpf() system call, without libbpf.
 *
 * What it is for: loading eBPF programs that wirespeed assembles itself
 * (wirespeed/xdp/ebpf.py emits the instruction bytes; no clang, no libbpf),
 * creating and updating the maps they use (the feed table, the XSKMAP),
 * attaching XDP programs through a bpf_link, and running a program in the
 * kernel on a given packet (BPF_PROG_TEST_RUN) for tests and for `doctor`.
 *
 * Ownership: every function that returns a file descriptor hands it to the
 * caller, who must close() it. A bpf_link fd owns the attachment: closing it
 * (or the process dying) detaches the program, so nothing is left on an
 * interface after a crash. Program fds keep the program alive while any link
 * or map refers to it.
 *
 * Threads: all functions are plain syscalls on caller-owned memory; any
 * thread may call them. None of them is for a hot path.
 *
 * Errors: functions return >= 0 on success and -errno on failure; they never
 * print. The caller names the syscall and its arguments in the message it
 * shows the user (see module.c).
 */
#ifndef WS_BPF_H
#define WS_BPF_H

#include <stddef.h>
#include <stdint.h>

/* ws_bpf_prog_load loads insn_cnt 8-byte instructions as a program of
 * prog_type (BPF_PROG_TYPE_*) with expected_attach_type (BPF_XDP for XDP
 * programs attached by link). license must be a GPL-compatible string for
 * programs that call GPL-only helpers. log/log_sz: caller-owned buffer for the
 * verifier's log (may be NULL/0); log_level 1 asks the verifier to explain
 * itself, which callers do on a failed load to show the user why.
 * Returns the program fd, or -errno (EACCES/EINVAL carry the verifier's
 * reason in log; EPERM means CAP_BPF/CAP_SYS_ADMIN is missing). */
int ws_bpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_cnt,
                     const char *license, uint32_t expected_attach_type,
                     char *log, uint32_t log_sz, uint32_t log_level);

/* ws_bpf_xdp_link_create attaches prog_fd to interface ifindex. xdp_flags is
 * one of XDP_FLAGS_SKB_MODE (generic), XDP_FLAGS_DRV_MODE (native) or 0 (let
 * the kernel choose). Returns the link fd (close it to detach), or -errno:
 * EOPNOTSUPP when the driver lacks the mode, EBUSY when another program is
 * attached in a way a link cannot replace, ENODEV for a vanished interface. */
int ws_bpf_xdp_link_create(int prog_fd, int ifindex, uint32_t xdp_flags);

/* ws_bpf_prog_test_run runs prog_fd repeat times on data_in. data_out (may be
 * NULL) receives the possibly rewritten packet; *data_out_sz is in/out.
 * *retval is the program's return value (XDP_PASS = 2, ...), *duration_ns the
 * kernel's mean time per run. Returns 0 or -errno. */
int ws_bpf_prog_test_run(int prog_fd, const void *data_in, uint32_t data_in_sz,
                         void *data_out, uint32_t *data_out_sz, uint32_t repeat,
                         uint32_t *retval, uint32_t *duration_ns);

/* ws_bpf_map_create creates a map (BPF_MAP_TYPE_*) of max_entries entries
 * of key_sz/value_sz bytes; name (<= 15 chars, may be NULL) shows in
 * bpftool. Returns the map fd or -errno (EPERM: privileges; EINVAL: sizes
 * the type does not take). Map fds referenced by a loaded program stay
 * alive as long as the program. */
int ws_bpf_map_create(uint32_t map_type, uint32_t key_sz, uint32_t value_sz, uint32_t max_entries,
                      const char *name);

/* ws_bpf_map_update sets key -> value (flags: BPF_ANY, BPF_NOEXIST,
 * BPF_EXIST); for an XSKMAP the value is the fd of a bound AF_XDP socket.
 * ws_bpf_map_delete removes key (-ENOENT if absent); ws_bpf_map_lookup copies
 * the value out (-ENOENT if absent). Key and value buffers are the caller's,
 * of the map's sizes. Returns 0 or -errno. */
int ws_bpf_map_update(int map_fd, const void *key, const void *value, uint64_t flags);
int ws_bpf_map_delete(int map_fd, const void *key);
int ws_bpf_map_lookup(int map_fd, const void *key, void *value);

#endif /* WS_BPF_H */
