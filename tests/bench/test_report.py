"""`wirespeed bench`: the report's shape from synthetic runs (fast, no root),
then the real thing with --quick on the test host (root), then --compare and
its bad input. No timing is asserted: speed belongs to the benchmark."""
from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import run_cli
from wirespeed.bench import hist, render
from wirespeed.bench import report as rp

PNG = b"\x89PNG\r\n\x1a\n"


def _fake_run(rng: np.random.Generator, median_ns: float, n: int = 2000) -> dict[str, Any]:
    lat = rng.lognormal(np.log(median_ns), 0.3, n).astype(np.int64)
    rx = 1_700_000_000_000_000_000 + np.arange(n, dtype=np.int64) * 100_000
    return {"sent_pkts": n, "received_pkts": n, "lost_pkts": 0, "seq_gaps": 0, "drops": {}, "cpu_ns": n * 1000,
            "cpu_ns_per_pkt": 1000.0, "hist": hist.from_ns(lat), "rx_ns": rx, "lat_ns": lat}


@functools.lru_cache(maxsize=2)
def _fake(seed: int) -> str:
    return json.dumps(_make_fake(seed), default=str)


def _fake_results(seed: int = 1) -> dict[str, Any]:
    """Results of a run made of synthetic lognormal latencies: exactly what results.json holds."""
    return json.loads(_fake(seed))


def _make_fake(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    medians = {"kernel_block": 30_000, "kernel_busy": 5_000, "af_xdp": 2_000, "sockperf": 30_000}
    scenarios = {}
    for sc in rp.SCENARIOS:
        paths = {p: rp._summarise([_fake_run(rng, m) for _ in range(3)]) for p, m in medians.items()
                 if p != "sockperf" or sc.sockperf}
        ratios = {q: rp._spread([a["latency_ns"][q] / b["latency_ns"][q] for a, b in
                                 zip(paths["kernel_block"]["runs"], paths["af_xdp"]["runs"])])
                  for q in ("p50", "p99", "p999", "stddev")}
        scenarios[sc.name] = {"title": sc.title, "what": sc.what, "config": {}, "paths": paths,
                              "improvement_spread": ratios}
    res = {"schema": rp.SCHEMA, "created": "2026-11-23T00:00:00+00:00", "elapsed_s": 1.0, "command": [],
           "options": rp._jsonable(rp.asdict(rp.ReportOptions())), "machine": {"cpu_model": "test"},
           "bed": None, "scenarios": scenarios, "peers_missing": [],
           "sub": {"capture": {"max_pps_kernel_block": 300_000.0, "max_pps_af_xdp": 420_000.0,
                               "drain_pps_kernel_block": 800_000.0, "drain_pps_af_xdp": 12_000_000.0}}}
    stall = {"cpu": 1, "seconds": 8.0, "threshold_ns": 20000, "stalls": 2000, "stalls_per_s": 250.0,
             "stolen_fraction": 0.008, "timer_ticks_per_s": 250.0, "late_ns": 50000, "late_fraction": 0.002,
             "over_late_per_s": 10.0, "stall_ns_p50": 25000.0, "stall_ns_p99": 70000.0, "stall_ns_max": 900000.0}
    res["rx_core_stalls"], res["sender_core_stalls"] = stall, {**stall, "cpu": 0, "late_fraction": 0.003}
    res["key_results"] = rp.key_results(res)
    res["goals"] = rp.goals_report(rp.GOALS, {**res, **rp.latency_figures(res)})
    return res


def test_key_results_in_seed_001_shape() -> None:
    res = _fake_results()
    rows = res["key_results"]
    assert {r["scenario"] for r in rows} == {s.title for s in rp.SCENARIOS}
    med = next(r for r in rows if r["scenario"] == "Single feed" and r["metric"] == "Median latency")
    assert med["kernel"] > med["bypass"] and med["improvement"] == pytest.approx(med["kernel"] / med["bypass"])
    lo, mid, hi = med["improvement_spread"]
    assert lo <= mid <= hi
    rate = next(r for r in rows if r["metric"] == "Max loss-free rate")
    assert rate["improvement"] == pytest.approx(420_000 / 300_000)  # rates: bypass / kernel


def test_write_makes_every_output(tmp_path: Path) -> None:
    res = _fake_results()
    files = render.write(res, tmp_path / "out")
    assert render.load(files["results"])["key_results"] == res["key_results"]
    md = Path(files["report_md"]).read_text()
    assert "| Scenario | Metric | Kernel | Bypass | Improvement |" in md
    for sc in rp.SCENARIOS:
        assert f"## {sc.title}" in md
        for kind in ("cdf", "histogram", "timeline"):
            png = tmp_path / "out" / f"{sc.name}-{kind}.png"
            assert png.read_bytes()[:8] == PNG and f"({png.name})" in md
    page = Path(files["report_html"]).read_text()
    assert page.count("data:image/png;base64,") == 3 * len(rp.SCENARIOS)
    assert "src='" + "data:" in page and "<img alt='single-cdf' src='single" not in page  # self-contained


def test_compare_same_run_is_within_its_spread() -> None:
    a = _fake_results(1)
    rows = render.compare(a, a)
    assert rows and all(r["change"] in (0, None) for r in rows)
    assert all(r["within_spread"] in (True, None) for r in rows)
    b = _fake_results(1)
    b["scenarios"]["single"]["paths"]["af_xdp"]["spread_ns"]["p50"] = [1e9, 1e9, 1e9]
    b["scenarios"]["single"]["paths"]["af_xdp"]["latency_ns"]["p50"] = 1e9
    moved = [r for r in render.compare(a, b) if r["figure"] == "Single feed: af_xdp p50"]
    assert moved[0]["within_spread"] is False and moved[0]["change"] > 100


def test_load_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(render.ResultsError, match="cannot read"):
        render.load(bad)
    bad.write_text(json.dumps({"schema": "wirespeed-bench/0"}))
    with pytest.raises(render.ResultsError, match="schema"):
        render.load(bad)
    bad.write_text("[]")
    with pytest.raises(render.ResultsError, match="schema"):
        render.load(bad)


def test_cli_compare_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "a.json"
    good.write_text(json.dumps(_fake_results()))
    proc = run_cli("bench", "--compare", str(good), str(good), "--json", check_rc=0)
    doc = json.loads(proc.stdout)
    assert doc["rows"] and all(r["change"] in (0, None) for r in doc["rows"])
    assert doc["summary"]["within_spread"] == doc["summary"]["with_spread"] > 0
    proc = run_cli("bench", "--compare", str(good), str(good), check_rc=0)
    assert "within A's spread" in proc.stdout
    (tmp_path / "b.json").write_text("garbage")
    proc = run_cli("bench", "--compare", str(good), str(tmp_path / "b.json"))
    assert proc.returncode == 1 and "cannot read it as JSON" in proc.stderr
    proc = run_cli("bench", "--compare", str(good), str(tmp_path / "missing.json"))
    assert proc.returncode == 1 and "missing.json" in proc.stderr


def test_cli_rejects_unknown_scenario(tmp_path: Path) -> None:
    proc = run_cli("bench", "--scenarios", "single,nope", "-o", str(tmp_path / "x"))
    assert proc.returncode != 0 and "unknown scenario nope" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_help_teaches() -> None:
    proc = run_cli("bench", "--help", check_rc=0)
    for word in ("--quick", "--compare", "--repeats", "--seed", "report.html", "sockperf", "ring"):
        assert word in proc.stdout, word


@pytest.mark.privileged
def test_bench_quick_on_the_test_host(tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = run_cli("bench", "--quick", "--json", "-o", str(out), check_rc=0, timeout=600)
    res = json.loads(proc.stdout)
    assert res["schema"] == rp.SCHEMA and res["options"]["quick"] is True
    assert res["machine"]["cores_online"] >= 1 and res["machine"]["kernel"]
    assert res["rx_cpu"] is not None and res["rx_cpu"] not in res["sender_cpus"]
    assert set(res["scenarios"]) == {s.name for s in rp.SCENARIOS}
    peer_in = {s.name: s.sockperf for s in rp.SCENARIOS}
    for name, sc in res["scenarios"].items():
        want = set(rp.PATHS) | ({"sockperf"} if peer_in[name] and shutil.which("sockperf") else set())
        assert set(sc["paths"]) == want, name
        for p, v in sc["paths"].items():
            lat = v["latency_ns"]
            assert lat["count"] > 0 and 0 < lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"], (name, p)
            assert v["sent_pkts"] > 0 and v["received_pkts"] + v["lost_pkts"] >= v["sent_pkts"] - v["lost_pkts"]
            assert hist.summary(hist.decode(v["hdr"]))["count"] == lat["count"]
            assert v["timeline"]["t_s"], (name, p)
            if p != "sockperf":
                assert v["cpu_ns_per_pkt"] is not None, (name, p)
    if not shutil.which("sockperf"):
        assert any("sockperf" in m for m in res["peers_missing"])
    assert set(res["sub"]) == {"ring", "sim", "capture"}
    cap = res["sub"]["capture"]
    if shutil.which("dpdk-testpmd"):
        assert cap["max_rate_testpmd"]["ceilings"][0]["received"] > 0
    else:
        assert any("testpmd" in m for m in res["peers_missing"])
    metrics = {(r["scenario"], r["metric"]) for r in res["key_results"]}
    assert ("Single feed", "Median latency") in metrics and ("Multiple feeds", "P99 latency") in metrics
    assert ("Single feed", "Max loss-free rate") in metrics
    for f in ("results.json", "report.md", "report.html"):
        assert (out / f).stat().st_size > 0
    assert len(res["files"]["plots"]) == 3 * len(rp.SCENARIOS)
    assert not list(Path("/dev/shm").glob("wsbench-*")), "rings left behind"


def test_unprivileged_run_fails_at_once(tmp_path: Path) -> None:
    out = tmp_path / "r"
    tmp_path.chmod(0o777)
    proc = run_cli("bench", "--quick", "-o", str(out), user="nobody", timeout=30)
    assert proc.returncode == 1 and "CAP_NET_ADMIN" in proc.stderr and "hint:" in proc.stderr
    assert not out.exists()


def test_tails_with_too_few_samples_are_greyed_not_claimed(tmp_path: Path) -> None:
    """2,000 samples a run: p99 has 20 beyond it (judged), p99.9 two (not):
    its row is marked, greyed in both reports, and never bold."""
    res = _fake_results()
    rows = {r["metric"]: r for r in res["key_results"] if r["scenario"] == "Single feed"}
    assert rows["P99 latency"]["judged"] is True and rows["P99.9 latency"]["judged"] is False
    assert rows["Jitter (std dev)"]["judged"] is False
    af = res["scenarios"]["single"]["paths"]["af_xdp"]
    assert af["samples_per_run_min"] == 2000 and af["tail_judged"] == {"p99": True, "p999": False, "p9999": False}
    lo, hi = af["band_ns"]["p99"]
    assert lo <= af["latency_ns"]["p99"] <= hi
    files = render.write(res, tmp_path / "out")
    md = Path(files["report_md"]).read_text()
    p999 = next(ln for ln in md.splitlines() if ln.startswith("| Single feed | P99.9 latency"))
    assert "color:#999" in p999 and "**" not in p999 and "too few samples" in p999
    p99 = next(ln for ln in md.splitlines() if ln.startswith("| Single feed | P99 latency"))
    assert "**" in p99 and "#999" not in p99
    page = Path(files["report_html"]).read_text()
    assert "class='few'" in page
    for text in (md, page):  # the goals and where the tail comes from, in both reports
        assert "Where the tail comes from" in text and "0.50 % of messages late" in text
        assert "background p99: kernel_block / af_xdp" in text


def test_goals_judge_sent_to_received_p99() -> None:
    res = _fake_results()
    figs = rp.latency_figures(res)
    assert figs["lat_p99_kernel_block_over_af_xdp_single"] == pytest.approx(
        res["scenarios"]["single"]["paths"]["kernel_block"]["latency_ns"]["p99"]
        / res["scenarios"]["single"]["paths"]["af_xdp"]["latency_ns"]["p99"])
    goals = {g["key"]: g for g in rp.goals_report(rp.GOALS, {**res, **figs})}
    assert goals["lat_p99_kernel_block_over_af_xdp_background"]["met"] is True
    assert goals["lat_p99_kernel_busy_over_af_xdp_bursts"]["met"] is True
