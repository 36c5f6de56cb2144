"""`doctor` on fixture hosts (states this machine lacks) and on this machine."""
from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.hosts import EOPNOTSUPP, FakeProbes, base_files, build_tree, oserr
from wirespeed.host import doctor
from wirespeed.host.doctor import DoctorOptions, Status
from wirespeed.errors import UsageError
from wirespeed.system.netdev import XDP_ACT, XdpFeatures


def check(report: doctor.Report, section: str, name: str) -> doctor.Check:
    found = [c for c in report.checks if c.section == section and c.name == name]
    assert found, f"no check {section}/{name} in {[(c.section, c.name) for c in report.checks]}"
    return found[0]


def run_fixture(tmp_path: Path, overrides: dict[str, str | None] | None = None, probes: FakeProbes | None = None,
                ifaces: tuple[str, ...] = ("eth1",), **tree_kw) -> tuple[doctor.Report, FakeProbes]:
    files = base_files(**tree_kw) | (overrides or {})
    fs = build_tree(tmp_path, files, **tree_kw)
    probes = probes or FakeProbes()
    return doctor.run(DoctorOptions(ifaces=ifaces), fs, probes), probes


# -- fixture hosts ------------------------------------------------------------

def test_tuned_host_with_isolated_cores(tmp_path: Path) -> None:
    rep, _ = run_fixture(tmp_path, {
        "proc/cmdline": "root=/dev/sda1 isolcpus=2-3 nohz_full=2-3 rcu_nocbs=2-3",
        "sys/devices/system/cpu/isolated": "2-3",
        "sys/devices/system/cpu/nohz_full": "2-3",
    })
    assert check(rep, "cpu", "isolcpus").status is Status.PASS
    assert "2-3" in check(rep, "cpu", "isolcpus").value
    assert check(rep, "cpu", "nohz_full").status is Status.PASS
    assert check(rep, "cpu", "rcu_nocbs").status is Status.PASS
    assert check(rep, "cpu", "governor").status is Status.PASS
    assert rep.facts["isolated_cpus"] == [2, 3]
    # IRQs 120/121 sit on cores 0 and 1: housekeeping, as they should.
    assert check(rep, "interface eth1", "IRQ affinity").status is Status.INFO
    assert rep.ok


def test_irq_on_an_isolated_core_is_flagged(tmp_path: Path) -> None:
    rep, _ = run_fixture(tmp_path, {
        "sys/devices/system/cpu/isolated": "1-3",
    })
    irq = check(rep, "interface eth1", "IRQ affinity")
    assert irq.status is Status.WARN and "121" in irq.value
    assert "smp_affinity_list" in irq.fix


def test_untuned_host_gets_boot_flags_to_add(tmp_path: Path) -> None:
    rep, _ = run_fixture(tmp_path, {"sys/devices/system/cpu/cpu1/cpufreq/scaling_governor": "powersave"})
    iso = check(rep, "cpu", "isolcpus")
    assert iso.status is Status.WARN
    assert iso.fix == "boot with isolcpus=1,2,3 nohz_full=1,2,3 rcu_nocbs=1,2,3"
    gov = check(rep, "cpu", "governor")
    assert gov.status is Status.WARN and "powersave" in gov.value


def test_zero_copy_nic_with_hardware_timestamps(tmp_path: Path) -> None:
    probes = FakeProbes(features={3: XdpFeatures(XDP_ACT["basic"] | XDP_ACT["xsk-zerocopy"])})
    rep, probes = run_fixture(tmp_path, probes=probes, driver="ice")
    assert check(rep, "interface eth1", "native XDP").status is Status.PASS
    zc = check(rep, "interface eth1", "AF_XDP zero-copy")
    assert zc.status is Status.PASS and "XDP_ZEROCOPY" in zc.value
    assert check(rep, "interface eth1", "hardware timestamps").status is Status.PASS
    assert "xsk-zerocopy" in check(rep, "interface eth1", "XDP advertised").value
    assert probes.attached == [(3, True)]
    assert rep.facts["interfaces"]["eth1"]["xsk_zerocopy"] is True
    tcp = check(rep, "interface eth1", "order TCP over AF_XDP")  # two queues: the connection's may land on 1
    assert tcp.status is Status.WARN and "2 receive queues" in tcp.value and "combined 1" in tcp.fix


def test_copy_only_driver(tmp_path: Path) -> None:
    rep, _ = run_fixture(tmp_path, probes=FakeProbes(zerocopy=oserr(EOPNOTSUPP)))
    zc = check(rep, "interface eth1", "AF_XDP zero-copy")
    assert zc.status is Status.WARN and "copy mode only" in zc.value


def test_queue_held_by_another_socket(tmp_path: Path) -> None:
    rep, _ = run_fixture(tmp_path, probes=FakeProbes(zerocopy=oserr(errno.EBUSY), copy=oserr(errno.EBUSY)))
    zc = check(rep, "interface eth1", "AF_XDP zero-copy")
    assert zc.status is Status.WARN and "another AF_XDP socket" in zc.value


def test_generic_only_driver_and_broken_xdp(tmp_path: Path) -> None:
    one_queue = {"sys/class/net/eth1/queues/rx-1/rps_cpus": None}
    rep, probes = run_fixture(tmp_path, one_queue, probes=FakeProbes(native=oserr(EOPNOTSUPP)))
    assert check(rep, "interface eth1", "native XDP").status is Status.WARN
    assert probes.attached == [(3, True), (3, False)]
    tcp = check(rep, "interface eth1", "order TCP over AF_XDP")  # generic XDP will do
    assert tcp.status is Status.PASS and "queue 0" in tcp.value
    rep, _ = run_fixture(tmp_path / "b", probes=FakeProbes(native=oserr(EOPNOTSUPP), generic=oserr(errno.EBUSY)))
    assert check(rep, "interface eth1", "native XDP").status is Status.FAIL
    tcp = check(rep, "interface eth1", "order TCP over AF_XDP")
    assert tcp.status is Status.FAIL and "no XDP program attaches" in tcp.value and "kernel's TCP" in tcp.fix
    assert not rep.ok


def test_hugepages_exhausted(tmp_path: Path) -> None:
    rep, _ = run_fixture(tmp_path, {
        "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages": "0",
        "proc/mounts": "hugetlbfs /dev/hugepages hugetlbfs rw,pagesize=2M 0 0\n",
    })
    hp = check(rep, "memory", "hugepages 2 MiB")
    assert hp.status is Status.WARN and "exhausted" in hp.value
    assert "2048" in hp.fix  # reserve twice as many
    assert check(rep, "memory", "hugetlbfs mount").status is Status.PASS
    assert rep.facts["hugepages"] == {"2 MiB": {"total": 1024, "free": 0}}


def test_no_hugepages_reserved_and_no_mount(tmp_path: Path) -> None:
    rep, _ = run_fixture(tmp_path, {"sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": "0",
                                    "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages": "0"})
    assert "nr_hugepages" in check(rep, "memory", "hugepages 2 MiB").fix
    assert "mount -t hugetlbfs" in check(rep, "memory", "hugetlbfs mount").fix


def test_unprivileged_process(tmp_path: Path) -> None:
    probes = FakeProbes(af_xdp=oserr(errno.EPERM), bpf=oserr(errno.EPERM))
    rep, probes = run_fixture(tmp_path, {"proc/self/status": "CapEff:\t0000000000000000"}, probes=probes)
    assert check(rep, "kernel", "AF_XDP sockets").status is Status.FAIL
    assert check(rep, "kernel", "bpf()").status is Status.FAIL
    priv = check(rep, "privileges", "af_xdp")
    assert priv.status is Status.FAIL and "CAP_NET_RAW" in priv.value
    assert check(rep, "privileges", "kernel").status is Status.PASS
    mem = check(rep, "memory", "memlock")
    assert mem.status is Status.WARN and "ulimit -l" in mem.fix
    # Never attach without the privilege to do so:
    assert probes.attached == []
    assert "needs root" in check(rep, "interface eth1", "native XDP").value
    assert "needs root" in check(rep, "interface eth1", "order TCP over AF_XDP").value
    assert not rep.ok


def test_old_kernel_and_misconfigured_nic(tmp_path: Path) -> None:
    from dataclasses import replace

    probes = FakeProbes()
    probes.views["eth1"] = replace(probes.views["eth1"], lro=True, gro=True,
                                   coalesce=probes.views["eth1"].coalesce.__class__(50, 0, True))
    rep, _ = run_fixture(tmp_path, {"proc/sys/kernel/osrelease": "4.19.0-27", "sys/class/net/eth1/mtu": "9000",
                                    "sys/kernel/mm/transparent_hugepage/enabled": "[always] madvise never",
                                    "proc/sys/net/core/bpf_jit_enable": "0"}, probes=probes)
    assert check(rep, "kernel", "version").status is Status.FAIL
    assert check(rep, "kernel", "BPF JIT").fix == "wirespeed tune apply (or: sysctl -w net.core.bpf_jit_enable=1)"
    assert check(rep, "interface eth1", "LRO").fix == "wirespeed tune apply --iface eth1 (or: ethtool -K eth1 lro off)"
    assert check(rep, "interface eth1", "GRO").status is Status.WARN
    assert check(rep, "interface eth1", "MTU").status is Status.WARN
    assert "adaptive-rx off" in check(rep, "interface eth1", "interrupt coalescing").fix
    assert check(rep, "memory", "transparent hugepages").status is Status.WARN


def test_default_route_interface_is_examined_but_never_attached(tmp_path: Path) -> None:
    rep, probes = run_fixture(tmp_path, ifaces=())
    assert probes.attached == []
    nx = check(rep, "interface eth1", "native XDP")
    assert nx.status is Status.INFO and "--iface eth1" in nx.value


def test_unknown_interface_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no interface named 'nosuch0'"):
        run_fixture(tmp_path, ifaces=("nosuch0",))


def test_missing_peers_have_install_commands(tmp_path: Path) -> None:
    rep, _ = run_fixture(tmp_path, probes=FakeProbes(programs={}, dpdk=None))
    assert "apt-get install dpdk-dev" in check(rep, "dpdk", "dpdk transport").fix
    assert check(rep, "peers", "sockperf").fix == "apt-get install sockperf"


def test_report_json_shape(tmp_path: Path) -> None:
    rep, _ = run_fixture(tmp_path)
    doc = json.loads(json.dumps(rep.as_dict()))
    assert set(doc) == {"checks", "summary", "facts", "ok"}
    assert all(set(c) == {"section", "name", "status", "value", "fix"} for c in doc["checks"])
    assert sum(doc["summary"].values()) == len(doc["checks"])


# -- this machine ---------------------------------------------------------------

@pytest.mark.privileged
def test_this_machine_on_the_test_host(testbed_cfg) -> None:
    """The figures the issue names for this VM: AF_XDP yes, native XDP on veth
    yes, zero-copy no (copy yes), no isolated cores."""
    proc = run_cli("doctor", "--iface", testbed_cfg.host_if, "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == (0 if doc["ok"] else 1)
    assert doc["facts"]["af_xdp"] is True and doc["facts"]["bpf"] is True
    veth = doc["facts"]["interfaces"][testbed_cfg.host_if]
    assert veth["driver"] == "veth"
    assert veth["native_xdp"] is True
    assert veth["xsk_zerocopy"] is False and veth["xsk_copy"] is True
    assert "xsk-zerocopy" not in veth["xdp_features"]
    isolated = Path("/sys/devices/system/cpu/isolated").read_text().strip()
    assert (doc["facts"]["isolated_cpus"] == []) == (isolated == "")


@pytest.mark.privileged
def test_this_machine_table_is_readable(testbed_cfg) -> None:
    proc = run_cli("doctor", "--iface", testbed_cfg.host_if)
    assert proc.returncode in (0, 1), proc.stderr
    assert "native XDP" in proc.stdout and "AF_XDP zero-copy" in proc.stdout
    assert "copy mode only" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_unprivileged_doctor_reports_instead_of_crashing() -> None:
    import os

    if os.geteuid() != 0:
        proc = run_cli("doctor", "--json")
    else:
        proc = run_cli("doctor", "--json", user="nobody")
    doc = json.loads(proc.stdout)
    if os.geteuid() == 0:
        assert proc.returncode == 1 and not doc["ok"]
        assert any(c["name"] == "af_xdp" and c["status"] == "fail" for c in doc["checks"])
    assert "Traceback" not in proc.stderr


def test_dpdk_section_says_what_the_transport_needs(tmp_path: Path) -> None:
    rep, _ = run_fixture(tmp_path)
    assert check(rep, "dpdk", "dpdk transport").status is Status.PASS
    mem = check(rep, "dpdk", "dpdk memory")
    assert mem.status is Status.WARN and "--no-huge" in mem.value and "nr_hugepages" in mem.fix
    ports = check(rep, "dpdk", "dpdk ports")
    assert ports.status is Status.INFO and "net_af_xdp0,iface=" in ports.value and "vfio-pci" in ports.fix
    vfio = tmp_path / "bound"
    rep, _ = run_fixture(vfio, {"sys/bus/pci/drivers/vfio-pci/0000:3b:00.0/uevent": "",
                                     "sys/bus/pci/drivers/vfio-pci/bind": ""})
    assert check(rep, "dpdk", "dpdk ports").value.startswith("0000:3b:00.0 (vfio-pci)")
