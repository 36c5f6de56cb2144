/* xdp/bpf.c - see bpf.h for the contract. */
#include "xdp/bpf.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long ws_sys_bpf(int cmd, union bpf_attr *attr)
{
	long rc = syscall(__NR_bpf, cmd, attr, sizeof(*attr));
	return rc < 0 ? -errno : rc;
}

static uint64_t ws_ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

int ws_bpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_cnt,
                     const char *license, uint32_t expected_attach_type,
                     char *log, uint32_t log_sz, uint32_t log_level)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = prog_type;
	attr.insns = ws_ptr(insns);
	attr.insn_cnt = insn_cnt;
	attr.license = ws_ptr(license);
	attr.expected_attach_type = expected_attach_type;
	if (log && log_sz) {
		log[0] = '\0';
		attr.log_buf = ws_ptr(log);
		attr.log_size = log_sz;
		attr.log_level = log_level;
	}
	/* The verifier may answer EAGAIN under memory pressure; retrying is what
	 * every loader does. Bounded so a persistent EAGAIN still surfaces. */
	long rc = -EAGAIN;
	for (int tries = 0; tries < 5 && rc == -EAGAIN; tries++)
		rc = ws_sys_bpf(BPF_PROG_LOAD, &attr);
	return (int)rc;
}

int ws_bpf_xdp_link_create(int prog_fd, int ifindex, uint32_t xdp_flags)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (uint32_t)prog_fd;
	attr.link_create.target_ifindex = (uint32_t)ifindex;
	attr.link_create.attach_type = BPF_XDP;
	attr.link_create.flags = xdp_flags;
	return (int)ws_sys_bpf(BPF_LINK_CREATE, &attr);
}

int ws_bpf_prog_test_run(int prog_fd, const void *data_in, uint32_t data_in_sz,
                         void *data_out, uint32_t *data_out_sz, uint32_t repeat,
                         uint32_t *retval, uint32_t *duration_ns)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.test.prog_fd = (uint32_t)prog_fd;
	attr.test.data_in = ws_ptr(data_in);
	attr.test.data_size_in = data_in_sz;
	if (data_out && data_out_sz) {
		attr.test.data_out = ws_ptr(data_out);
		attr.test.data_size_out = *data_out_sz;
	}
	attr.test.repeat = repeat;
	long rc = ws_sys_bpf(BPF_PROG_TEST_RUN, &attr);
	if (rc < 0)
		return (int)rc;
	if (data_out_sz)
		*data_out_sz = attr.test.data_size_out;
	*retval = attr.test.retval;
	*duration_ns = attr.test.duration;
	return 0;
}

int ws_bpf_map_create(uint32_t map_type, uint32_t key_sz, uint32_t value_sz, uint32_t max_entries,
                      const char *name)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_type = map_type;
	attr.key_size = key_sz;
	attr.value_size = value_sz;
	attr.max_entries = max_entries;
	if (name)
		strncpy(attr.map_name, name, sizeof(attr.map_name) - 1);
	return (int)ws_sys_bpf(BPF_MAP_CREATE, &attr);
}

static long ws_bpf_map_elem(int cmd, int map_fd, const void *key, const void *value, uint64_t flags)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map_fd;
	attr.key = ws_ptr(key);
	attr.value = ws_ptr(value);
	attr.flags = flags;
	return ws_sys_bpf(cmd, &attr);
}

int ws_bpf_map_update(int map_fd, const void *key, const void *value, uint64_t flags)
{
	return (int)ws_bpf_map_elem(BPF_MAP_UPDATE_ELEM, map_fd, key, value, flags);
}

int ws_bpf_map_delete(int map_fd, const void *key)
{
	return (int)ws_bpf_map_elem(BPF_MAP_DELETE_ELEM, map_fd, key, NULL, 0);
}

int ws_bpf_map_lookup(int map_fd, const void *key, void *value)
{
	return (int)ws_bpf_map_elem(BPF_MAP_LOOKUP_ELEM, map_fd, key, value, 0);
}
