"""A malloc counter for tests, preloaded (LD_PRELOAD) into a child process.

It counts malloc, calloc and realloc, then hands each to glibc's own:
  * in total: `ws_malloc_count()`, read with ctypes inside the child;
  * per thread, by kernel thread id: on SIGUSR2 the child appends a snapshot
    ("tid count" lines, then "end") to the file named by $WS_ALLOC_REPORT,
    so a test can watch one thread of a running command (a capture's
    ws-rx-* thread) across a steady-state window from outside.

A thread appears once it has allocated; one that never has counts 0.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

SHIM = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

#define SLOTS 4096
static _Atomic unsigned long total;
static struct { _Atomic long tid; _Atomic unsigned long n; } slot[SLOTS];
static _Atomic int used;
/* initial-exec: a preloaded library's TLS is static, so reading it never allocates */
static __thread int mine __attribute__((tls_model("initial-exec"))) = -1;
static const char *report;

static void count(void)
{
	atomic_fetch_add_explicit(&total, 1, memory_order_relaxed);
	if (mine < 0) {
		int i = atomic_fetch_add(&used, 1);
		mine = i < SLOTS ? i : SLOTS;
		if (i < SLOTS)
			atomic_store(&slot[i].tid, syscall(SYS_gettid));
	}
	if (mine < SLOTS)
		atomic_fetch_add_explicit(&slot[mine].n, 1, memory_order_relaxed);
}

void *malloc(size_t s) { count(); return __libc_malloc(s); }
void *calloc(size_t a, size_t b) { count(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t s) { count(); return __libc_realloc(p, s); }
unsigned long ws_malloc_count(void) { return total; }

static char *utoa(char *end, unsigned long v)
{
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

/* async-signal-safe: open, write and close only */
static void snapshot(int sig)
{
	(void)sig;
	int fd = open(report, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd < 0)
		return;
	int n = atomic_load(&used);
	for (int i = 0; i < n && i < SLOTS; i++) {
		char line[48], *p = line + sizeof(line);
		*--p = '\n';
		p = utoa(p, atomic_load(&slot[i].n));
		*--p = ' ';
		p = utoa(p, (unsigned long)atomic_load(&slot[i].tid));
		(void)!write(fd, p, (size_t)(line + sizeof(line) - p));
	}
	(void)!write(fd, "end\n", 4);
	close(fd);
}

__attribute__((constructor)) static void setup(void)
{
	report = getenv("WS_ALLOC_REPORT");
	if (report) {
		struct sigaction sa = {.sa_handler = snapshot, .sa_flags = SA_RESTART};
		sigaction(SIGUSR2, &sa, NULL);
	}
}
"""


def build(directory: Path) -> Path:
    """Compile the shim into `directory`; returns the .so for LD_PRELOAD."""
    (directory / "alloc.c").write_text(SHIM)
    so = directory / "libwsalloc.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(so), str(directory / "alloc.c")], check=True)
    return so


def snapshot(pid: int, report: Path, timeout: float = 5.0) -> dict[int, int]:
    """Ask process `pid` (running with the shim and $WS_ALLOC_REPORT=report)
    for its per-thread counts now: {tid: allocations so far}."""
    before = report.read_text().count("end\n") if report.exists() else 0
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + timeout
    while True:
        text = report.read_text() if report.exists() else ""
        if text.count("end\n") > before:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} wrote no allocation snapshot within {timeout:.0f} s")
        time.sleep(0.01)
    counts: dict[int, int] = {}
    for line in text.split("end\n")[before].splitlines():
        tid, n = map(int, line.split())
        counts[tid] = counts.get(tid, 0) + n  # a tid reused by a later thread: both counts, summed
    return counts
