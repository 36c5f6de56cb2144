/* xsk.c - see xsk.h for the contract. */
#include "xsk.h"

#include <errno.h>
#include <linux/if_xdp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

/* Smallest UMEM the kernel accepts that still looks like a real one: 16
 * frames of 2 KiB, rings of 16 entries. */
#define WS_PROBE_FRAME_SZ 2048u
#define WS_PROBE_FRAME_CNT 16u

const char *ws_xsk_step_name(enum ws_xsk_step step)
{
	switch (step) {
	case WS_XSK_STEP_SOCKET: return "socket(AF_XDP, SOCK_RAW)";
	case WS_XSK_STEP_UMEM_MMAP: return "mmap(UMEM)";
	case WS_XSK_STEP_UMEM_REG: return "setsockopt(SOL_XDP, XDP_UMEM_REG)";
	case WS_XSK_STEP_RINGS: return "setsockopt(SOL_XDP, XDP_*_RING)";
	case WS_XSK_STEP_BIND: return "bind(AF_XDP)";
	default: return "none";
	}
}

static int ws_xsk_set_ring(int fd, int opt, int entries)
{
	return setsockopt(fd, SOL_XDP, opt, &entries, sizeof(entries)) ? -errno : 0;
}

int ws_xsk_probe(int ifindex, uint32_t queue_id, uint16_t bind_flags, enum ws_xsk_step *failed)
{
	size_t umem_sz = (size_t)WS_PROBE_FRAME_SZ * WS_PROBE_FRAME_CNT;
	void *umem = MAP_FAILED;
	int rc = 0;
	*failed = WS_XSK_STEP_NONE;

	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*failed = WS_XSK_STEP_SOCKET;
		return -errno;
	}
	umem = mmap(NULL, umem_sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (umem == MAP_FAILED) {
		rc = -errno;
		*failed = WS_XSK_STEP_UMEM_MMAP;
		goto fail;
	}
	struct xdp_umem_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.addr = (uint64_t)(uintptr_t)umem;
	reg.len = umem_sz;
	reg.chunk_size = WS_PROBE_FRAME_SZ;
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg))) {
		rc = -errno;
		*failed = WS_XSK_STEP_UMEM_REG;
		goto fail;
	}
	if ((rc = ws_xsk_set_ring(fd, XDP_UMEM_FILL_RING, WS_PROBE_FRAME_CNT)) ||
	    (rc = ws_xsk_set_ring(fd, XDP_UMEM_COMPLETION_RING, WS_PROBE_FRAME_CNT)) ||
	    (rc = ws_xsk_set_ring(fd, XDP_RX_RING, WS_PROBE_FRAME_CNT))) {
		*failed = WS_XSK_STEP_RINGS;
		goto fail;
	}
	struct sockaddr_xdp sxdp;
	memset(&sxdp, 0, sizeof(sxdp));
	sxdp.sxdp_family = AF_XDP;
	sxdp.sxdp_ifindex = (uint32_t)ifindex;
	sxdp.sxdp_queue_id = queue_id;
	sxdp.sxdp_flags = bind_flags;
	if (bind(fd, (struct sockaddr *)&sxdp, sizeof(sxdp))) {
		rc = -errno;
		*failed = WS_XSK_STEP_BIND;
		goto fail;
	}
fail:
	/* One exit, safe on a half-built probe: close the socket before the
	 * UMEM goes, so the kernel drops its pin on the pages first. */
	close(fd);
	if (umem != MAP_FAILED)
		munmap(umem, umem_sz);
	return rc;
}
