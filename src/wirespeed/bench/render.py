"""The folder `wirespeed bench` writes, made from results.json alone:

  results.json   everything measured (schema report.SCHEMA), full HdrHistograms included
  report.md      Key Results in seed 001's shape, then every path and peer per scenario
  *.png          per scenario: latency CDF (log axis), histogram, latency over time
  report.html    one self-contained page: the tables and the plots inlined

Everything here reads the results dict only, so an old results.json can be
rendered again (`render.write(json.load(...), folder)`), and compare() puts
two of them side by side.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed.bench import hist
from wirespeed.bench.report import BYPASS, DPDK, KERNEL, SCHEMA

COLOURS = {"kernel_block": "#d62728", "kernel_busy": "#ff7f0e", "af_xdp": "#2ca02c", "dpdk": "#1f77b4",
           "sockperf": "#7f7f7f"}


class ResultsError(ValueError):
    pass


def load(path: str | Path) -> dict[str, Any]:
    """A results.json, checked for the schema this version reads."""
    try:
        res = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(res, dict) or res.get("schema") != SCHEMA:
        got = res.get("schema") if isinstance(res, dict) else type(res).__name__
        raise ResultsError(f"{path}: schema {got!r}, this wirespeed reads {SCHEMA!r}")
    return res


# -- formatting ------------------------------------------------------------------------

def fmt_value(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "ns":
        return f"{v / 1000:,.1f} µs" if v >= 1000 else f"{v:,.0f} ns"
    if unit == "pkt/s":
        return f"{v:,.0f} pkt/s"
    if unit == "x":
        return _x(v)
    return f"{v:,.0f} {unit}".strip()


def _has_dpdk(res: dict[str, Any]) -> bool:
    """The Key Results carry a dpdk column when the run measured the dpdk path."""
    return any(r.get("dpdk") is not None for r in res.get("key_results", []))


def fmt_improvement(row: dict[str, Any]) -> str:
    imp, sp = row.get("improvement"), row.get("improvement_spread")
    if imp is None:
        return "-"
    s = f"{imp:.2f}x" if imp < 10 else f"{imp:.1f}x"
    if sp and sp[0] != sp[2]:
        s += f" ({sp[0]:.1f}-{sp[2]:.1f})"
    if row.get("judged") is False:
        s += " (too few samples)"
    return s


FEW = ("A greyed improvement is a tail some run had fewer than ten samples beyond: shown, not claimed "
       "(p99.9 needs 10,000 messages per run, p99.99 100,000).")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f} %"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _us(v: float | None) -> str:
    return "-" if v is None else f"{v / 1000:,.1f}"


# -- plots -------------------------------------------------------------------------------

def plots(res: dict[str, Any], folder: Path) -> dict[str, list[Path]]:
    """PNG files per scenario: cdf, histogram, timeline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, list[Path]] = {}
    for name, sc in res["scenarios"].items():
        files = []
        paths = {p: v for p, v in sc["paths"].items() if v["latency_ns"].get("count")}
        # CDF on a log latency axis, and the tail (1 - CDF) where the percentiles live
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
        for p, v in paths.items():
            x, c = hist.points(hist.decode(v["hdr"]))
            cdf = np.cumsum(c) / c.sum()
            a1.plot(x / 1000, cdf, label=p, color=COLOURS.get(p))
            tail = np.clip(1 - cdf + c / c.sum(), 1e-7, 1)
            a2.plot(x / 1000, tail, label=p, color=COLOURS.get(p))
        a1.set(xscale="log", xlabel="sent -> received (µs, log)", ylabel="fraction of messages <= x",
               title=f"{sc['title']}: latency CDF")
        a2.set(xscale="log", yscale="log", xlabel="sent -> received (µs, log)", ylabel="fraction of messages >= x",
               title="tail (1 - CDF)")
        for ax in (a1, a2):
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        files.append(_save(fig, folder / f"{name}-cdf.png"))
        # histogram, log-spaced bins
        fig, ax = plt.subplots(figsize=(11, 4))
        lo = min((v["latency_ns"]["min"] for v in paths.values()), default=1000)
        hi = max((v["latency_ns"]["max"] for v in paths.values()), default=1e6)
        edges = np.logspace(np.log10(max(lo, 100) / 1000), np.log10(hi / 1000 * 1.01), 80)
        for p, v in paths.items():
            x, c = hist.points(hist.decode(v["hdr"]))
            ax.hist(x / 1000, bins=edges, weights=c / c.sum(), histtype="step", linewidth=1.5, label=p,
                    color=COLOURS.get(p))
        ax.set(xscale="log", yscale="log", xlabel="sent -> received (µs, log)", ylabel="fraction of messages",
               title=f"{sc['title']}: latency histogram (all runs)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        files.append(_save(fig, folder / f"{name}-histogram.png"))
        # latency over time, last run of each path
        fig, ax = plt.subplots(figsize=(11, 4))
        for p, v in paths.items():
            tl = v["timeline"]
            if tl["t_s"]:
                t = np.array(tl["t_s"])
                ax.plot(t, np.array(tl["p50_ns"]) / 1000, color=COLOURS.get(p), label=f"{p} p50", linewidth=1.2)
                ax.scatter(t, np.array(tl["max_ns"]) / 1000, color=COLOURS.get(p), s=4, alpha=0.5,
                           label=f"{p} max")
        ax.set(yscale="log", xlabel="seconds into the run (after the warm-up; the last run of each path)",
               ylabel="sent -> received (µs, log)", title=f"{sc['title']}: latency over time")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=4)
        files.append(_save(fig, folder / f"{name}-timeline.png"))
        out[name] = files
    return out


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# -- markdown ---------------------------------------------------------------------------

def _machine_lines(res: dict[str, Any]) -> list[str]:
    m = res["machine"]
    ld = res.get("load") or {}
    virt = m.get("virtualisation") or {}
    gov = m.get("governor")
    return [
        f"- CPU: {m.get('cpu_model')}, {m.get('cores_online')} cores ({m.get('cores_usable')} usable); "
        f"isolated cores: {m.get('isolated_cores') or 'none'}; governor: "
        f"{', '.join(f'{k} x{v}' for k, v in gov.items()) if gov else 'none (no cpufreq)'}",
        f"- virtualised: VM {virt.get('vm')}, container {virt.get('container')}; kernel {m.get('kernel')}; "
        f"clocksource {m.get('clocksource')}; {m.get('memory_gib')} GiB",
        f"- wirespeed {m.get('wirespeed')} ({m.get('git') or 'not a git checkout'}), Python {m.get('python')}",
        f"- receive thread on core {res.get('rx_cpu')}, senders on {res.get('sender_cpus')}; time per part (s): "
        f"{', '.join(f'{k} {v:g}' for k, v in (res.get('timings_s') or {}).items()) or '-'}",
        f"- load: 1-min average {ld.get('loadavg_1m_before')} before, {ld.get('loadavg_1m_after')} after; "
        f"steal {_pct(ld.get('steal_fraction'))} of CPU time during the run",
        f"- bed: {(res.get('bed') or {}).get('kind')}. {(res.get('bed') or {}).get('note', '')}",
    ]


def _range(sp: list[float] | None) -> str:
    return f"{_us(sp[0])}-{_us(sp[2])}" if sp else "-"


def _tail(v: dict[str, Any], q: str) -> str:
    """A tail percentile with its 95 % band, bracketed when some run had too few samples beyond it."""
    x, band = v["latency_ns"].get(q), (v.get("band_ns") or {}).get(q)
    s = _us(x) + (f" [{_us(band[0])}-{_us(band[1])}]" if band else "")
    return s if (v.get("tail_judged") or {}).get(q, True) else f"({s})"


def _path_rows(sc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for p, v in sc["paths"].items():
        lat, sp = v["latency_ns"], v["spread_ns"]
        cpu = v.get("cpu_ns_per_pkt_median")
        n_run = v.get("samples_per_run_min")
        rows.append([p, _us(lat.get("p50")), _us(lat.get("p90")), _tail(v, "p99"), _tail(v, "p999"),
                     _tail(v, "p9999"), _us(lat.get("max")), _us(lat.get("stddev")), _range(sp.get("p50")),
                     _range(sp.get("p99")), f"{lat.get('count', 0):,}" + (f" ({n_run:,})" if n_run else ""),
                     f"{v['lost_pkts']:,} of {v['sent_pkts']:,}",
                     "-" if cpu is None else f"{cpu / 1000:,.2f}"])
    return rows


PATH_HEAD = ["path", "p50 µs", "p90", "p99 [95 % band]", "p99.9", "p99.99", "max", "stddev", "p50 per run",
             "p99 per run", "messages (fewest in a run)", "lost pkts", "rx CPU µs/pkt"]
SPLIT_HEAD = ["path", "generated -> sent p50", "p99", "p99.9", "late", "sent -> received p50", "p99", "p99.9",
              "late", "generated -> received p50", "p99", "p99.9", "late"]


def _split_rows(sc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for p, v in sc["paths"].items():
        parts = v.get("parts")
        if not parts:
            continue
        cells = [p]
        for d in (parts.get("gen_sent"), v, parts.get("gen_rx")):
            lat = (d or {}).get("latency_ns", {})
            late = (d or {}).get("late_fraction")
            cells += [_us(lat.get("p50")), _us(lat.get("p99")), _us(lat.get("p999")),
                      "-" if late is None else f"{late * 100:.2f} %"]
        rows.append(cells)
    return rows


def _goal_lines(res: dict[str, Any]) -> list[str]:
    goals = res.get("goals") or []
    if not goals:
        return []
    out = ["## Goals", "", "| goal | target | value | met |", "|---|---|---|---|"]
    for g in goals:
        v = g["value"]
        out.append(f"| {g['goal']} | {g['target']} | {'-' if v is None else f'{v:.2f}'} | "
                   f"{ {True: 'yes', False: '**no**', None: '-'}[g['met']]} |")
    return [*out, ""]


def _stall_lines(res: dict[str, Any]) -> list[str]:
    st = res.get("rx_core_stalls")
    if not st:
        return []
    tick = st.get("timer_ticks_per_s")
    single = (res["scenarios"].get("single") or {}).get("paths", {})
    late = {p: v.get("late_fraction") for p, v in single.items()}
    seen = ", ".join(f"{p} {f * 100:.2f} %" for p, f in late.items() if f is not None)
    return ["## Where the tail comes from", "",
            f"The receive core (core {st['cpu']}) was measured alone for {st['seconds']:g} s, a thread spinning "
            f"on the clock and nothing else: it was taken away {st['stalls_per_s']:,.0f} times a second for "
            f"{st['threshold_ns'] / 1000:g} µs or more (median {_us(st.get('stall_ns_p50'))} µs, p99 "
            f"{_us(st.get('stall_ns_p99'))} µs, longest {_us(st.get('stall_ns_max'))} µs), "
            f"{st['stolen_fraction'] * 100:.2f} % of its time"
            + (f"; the scheduler's timer tick fired {tick:,.0f} times a second on it" if tick else "") + ". "
            f"Stalls would hold {st['late_fraction'] * 100:.3f} % of evenly arriving messages past "
            f"{st['late_ns'] / 1000:g} µs; in the single-feed scenario the share of messages past it, sent -> "
            f"received, was: {seen or '-'}. Any receiver pinned to this core pays these stalls, so they are "
            "the floor of its tail: a core the kernel leaves alone (isolcpus, nohz_full) and a host that does "
            "not preempt the VM lower it; wirespeed cannot.", *_sender_stall_line(res), ""]


def _sender_stall_line(res: dict[str, Any]) -> list[str]:
    """On this bed the sender's core also runs the receiver's veth and XDP
    work (after the TX stamp), so its stalls reach sent -> received too."""
    st = res.get("sender_core_stalls")
    if not st:
        return []
    return ["", f"The sender's core (core {st['cpu']}), measured in the same window: {st['stalls_per_s']:,.0f} "
            f"stalls a second, {st['stolen_fraction'] * 100:.2f} % of its time, longest "
            f"{_us(st.get('stall_ns_max'))} µs; {st['late_fraction'] * 100:.3f} % of messages held past "
            f"{st['late_ns'] / 1000:g} µs. On the test host's veth that core also runs the receiver's driver "
            "and XDP work after the TX stamp, so its stalls reach sent -> received as well: the two cores "
            f"together would hold {(st['late_fraction'] + res['rx_core_stalls']['late_fraction']) * 100:.2f} % of "
            "messages late, against the shares above."]


def markdown(res: dict[str, Any], images: dict[str, list[Path]] | None = None) -> str:
    opts = res["options"]
    lines = [
        "# wirespeed bench", "",
        f"{res['created']}, {res.get('elapsed_s', '?')} s; {opts['repeats']} runs of {opts['run_s']} s per path "
        f"and scenario (first {opts['warmup_s']} s of each left out), interleaved; seed {opts['seed']}"
        f"{'; QUICK: a smoke run, not figures to quote' if opts.get('quick') else ''}.", "",
        "## Key Results", "",
        f"Kernel = `{KERNEL}` (UDP sockets, epoll: the usual socket receive), bypass = `{BYPASS}` "
        "(XDP redirect into AF_XDP, busy-polled). Improvement = kernel / bypass (for rates bypass / kernel); "
        "in brackets the range of the run-by-run improvement."
        + (f" DPDK = `{DPDK}` (wirespeed's dpdk transport; on the test host over DPDK's net_af_xdp driver, so at "
           "best equal to af_xdp)." if _has_dpdk(res) else ""), "",
        *(["| Scenario | Metric | Kernel | Bypass | DPDK | Improvement |", "|---|---|---|---|---|---|"]
          if _has_dpdk(res) else ["| Scenario | Metric | Kernel | Bypass | Improvement |", "|---|---|---|---|---|"]),
    ]
    for r in res["key_results"]:
        dpdk_cell = f"{fmt_value(r.get('dpdk'), r['unit'])} | " if _has_dpdk(res) else ""
        imp = fmt_improvement(r)
        imp = f"**{imp}**" if r.get("judged", True) else f"<span style='color:#999'>{imp}</span>"
        lines.append(f"| {r['scenario']} | {r['metric']} | {fmt_value(r['kernel'], r['unit'])} | "
                     f"{fmt_value(r['bypass'], r['unit'])} | {dpdk_cell}{imp} |")
    lines += ["", "Latency is sent -> received: from the kernel's TX stamp of the packet (as the test host's "
              "veth driver takes it) to the capture's stamp at dequeue. The sender's own delays (generated -> "
              "sent) are in the split table of each scenario. " + FEW, "",
              "Busy polling spends its core: at 10 k msg/s the af_xdp and kernel_busy receive threads show "
              "the whole core per packet in the tables below; the drain row is their cost when there is work.", ""]
    lines += _goal_lines(res)
    lines += _stall_lines(res)
    lines += ["## Machine", "", *_machine_lines(res), ""]
    for w in res.get("warnings", []):
        lines += [f"**Warning:** {w}", ""]
    if res.get("peers_missing"):
        lines += ["**Peers missing** (not measured): " + "; ".join(res["peers_missing"]), ""]
    for name, sc in res["scenarios"].items():
        lines += [f"## {sc['title']}", "", sc["what"] + ".", "",
                  "| " + " | ".join(PATH_HEAD) + " |", "|" + "---|" * len(PATH_HEAD)]
        lines += ["| " + " | ".join(r) + " |" for r in _path_rows(sc)]
        split = _split_rows(sc)
        if split:
            lines += ["", "Where each message's time went (µs; late = share above 50 µs):", "",
                      "| " + " | ".join(SPLIT_HEAD) + " |", "|" + "---|" * len(SPLIT_HEAD)]
            lines += ["| " + " | ".join(r) + " |" for r in split]
        lines.append("")
        for img in (images or {}).get(name, []):
            lines.append(f"![{img.stem}]({img.name})")
        lines.append("")
    cap = res.get("sub", {}).get("capture")
    if cap:
        lines += ["## Rates (single feed)", "", "| receiver | max loss-free pkt/s | drain pkt/s |", "|---|---|---|"]
        for p in (*("kernel_block", "kernel_busy", "af_xdp"), "testpmd"):
            lines.append(f"| {p if p != 'testpmd' else 'dpdk-testpmd (net_af_xdp, rxonly)'} | "
                         f"{fmt_value(cap.get(f'max_pps_{p}'), '')} | {fmt_value(cap.get(f'drain_pps_{p}'), '')} |")
        if cap.get("max_pps_af_xdp_over_testpmd"):
            lb = " (a lower bound: dpdk-testpmd held no rate loss-free)" \
                if cap.get("max_pps_af_xdp_over_testpmd_is_lower_bound") else ""
            lines.append(f"\naf_xdp / dpdk-testpmd max loss-free rate: {cap['max_pps_af_xdp_over_testpmd']:.2f}x{lb}; "
                         f"round by round at the ceiling, both loss-free: {_x(cap.get('ceiling_pps_af_xdp_over_testpmd'))}")
        lines += ["", f"Recorder: {fmt_value(cap.get('record_mb_per_s'), 'MB/s')} against dd oflag=direct "
                  f"{fmt_value(cap.get('dd_mb_per_s'), 'MB/s')}; lost at af_xdp's max rate: "
                  f"{cap.get('record_lost_at_max_rate')}", ""]
    ring, simr = res.get("sub", {}).get("ring"), res.get("sub", {}).get("sim")
    if ring or simr:
        lines += ["## Sub-benchmarks", ""]
    if ring:
        lines.append(f"- ring (`wirespeed bench ring`): one-way p50 {ring.get('ring_lat_ns_p50', 0):.0f} ns "
                     f"({ring.get('ring_lat_over_pingpong', 0):.2f}x a cache-line ping-pong); C writer -> C reader "
                     f"{(ring.get('ring_c_rec_per_s') or 0) / 1e6:.1f} M rec/s loss-free "
                     f"({ring.get('ring_lossfree_over_probe') or 0:.2f}x the bare lines probe's "
                     f"{(ring.get('ring_probe_rec_per_s') or 0) / 1e6:.1f} M); Python batch reader "
                     f"{(ring.get('ring_py_rec_per_s') or 0) / 1e6:.1f} M rec/s")
    if simr:
        lines.append(f"- simulator (`wirespeed bench sim`): {simr.get('sim_pps', 0):,.0f} pkt/s flat out "
                     f"({simr.get('sim_over_trafgen_pps') or 0:.2f}x trafgen), "
                     f"{simr.get('sim_full_msgs_per_s', 0) / 1e6:.2f} M msg/s in full packets")
    return "\n".join(lines) + "\n"


# -- html -------------------------------------------------------------------------------

def _table(head: list[str], rows: list[list[str]], grey: list[bool] | None = None) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join(("<tr class='few'>" if grey and grey[i] else "<tr>")
                   + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for i, r in enumerate(rows))
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _md_section_html(lines: list[str]) -> list[str]:
    """A markdown section of ours (a heading, paragraphs, one pipe table) as HTML."""
    out: list[str] = []
    table: list[list[str]] = []
    for ln in [*lines, ""]:
        if ln.startswith("|"):
            if not set(ln) <= set("|-"):
                table.append([c.strip().strip("*") for c in ln.strip("|").split("|")])
            continue
        if table:
            out.append(_table(table[0], table[1:]))
            table = []
        if ln.startswith("## "):
            out.append(f"<h2>{html.escape(ln[3:])}</h2>")
        elif ln:
            out.append(f"<p>{html.escape(ln)}</p>")
    return out


def html_page(res: dict[str, Any], images: dict[str, list[Path]]) -> str:
    dpdk = _has_dpdk(res)
    key = [[r["scenario"], r["metric"], fmt_value(r["kernel"], r["unit"]), fmt_value(r["bypass"], r["unit"]),
            *([fmt_value(r.get("dpdk"), r["unit"])] if dpdk else []), fmt_improvement(r)]
           for r in res["key_results"]]
    grey = [r.get("judged", True) is False for r in res["key_results"]]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>wirespeed bench</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%}.note{color:#555}tr.few td{color:#999}",
        "</style></head><body>",
        f"<h1>wirespeed bench</h1><p class='note'>{html.escape(res['created'])}, {res.get('elapsed_s', '?')} s; "
        f"{res['options']['repeats']} runs per path and scenario; seed {res['options']['seed']}"
        f"{' &mdash; QUICK run: a smoke test, not figures to quote' if res['options'].get('quick') else ''}</p>",
        f"<h2>Key Results</h2><p class='note'>kernel = {KERNEL}, bypass = {BYPASS}; improvement = kernel / bypass "
        "(rates: bypass / kernel), the run-by-run range in brackets.</p>",
        _table(["Scenario", "Metric", "Kernel", "Bypass", *(["DPDK"] if dpdk else []), "Improvement"], key, grey),
        f"<p class='note'>Latency is sent -> received (the packet's kernel TX stamp to the capture's stamp). "
        f"{html.escape(FEW)}</p>",
        *(_md_section_html(_goal_lines(res)) + _md_section_html(_stall_lines(res))),
        "<h2>Machine</h2><ul>" + "".join(f"<li>{html.escape(ln[2:])}</li>" for ln in _machine_lines(res)) + "</ul>",
    ]
    for w in res.get("warnings", []):
        parts.append(f"<p><b>Warning:</b> {html.escape(w)}</p>")
    if res.get("peers_missing"):
        parts.append("<p><b>Peers missing:</b> " + html.escape("; ".join(res["peers_missing"])) + "</p>")
    for name, sc in res["scenarios"].items():
        parts.append(f"<h2>{html.escape(sc['title'])}</h2><p>{html.escape(sc['what'])}.</p>")
        parts.append(_table(PATH_HEAD, _path_rows(sc)))
        if _split_rows(sc):
            parts.append("<p class='note'>Where each message's time went (µs; late = share above 50 µs):</p>")
            parts.append(_table(SPLIT_HEAD, _split_rows(sc)))
        for img in images.get(name, []):
            data = base64.b64encode(img.read_bytes()).decode("ascii")
            parts.append(f"<p><img alt='{html.escape(img.stem)}' src='data:image/png;base64,{data}'></p>")
    parts.append("<h2>Everything else</h2><p>See report.md and results.json (HdrHistograms encoded; "
                 "<code>hdrh.histogram.HdrHistogram.decode</code> reads them).</p></body></html>")
    return "\n".join(parts)


def write(res: dict[str, Any], folder: str | Path) -> dict[str, Any]:
    """results.json, the plots, report.md and report.html in `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    images = plots(res, folder)
    (folder / "report.md").write_text(markdown(res, images))
    (folder / "report.html").write_text(html_page(res, images))
    return {"folder": str(folder), "results": str(folder / "results.json"), "report_md": str(folder / "report.md"),
            "report_html": str(folder / "report.html"),
            "plots": [str(p) for files in images.values() for p in files]}


# -- compare ------------------------------------------------------------------------------

def _overlap(a: list[float] | None, b: list[float] | None) -> bool | None:
    if not a or not b:
        return None
    return a[0] <= b[2] and b[0] <= a[2]


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure both runs have: A, B, change (B / A - 1) and whether B's
    per-run range overlaps A's (None where a figure has no per-run spread)."""
    rows: list[dict[str, Any]] = []
    ka = {(r["scenario"], r["metric"]): r for r in a.get("key_results", [])}
    for r in b.get("key_results", []):
        o = ka.get((r["scenario"], r["metric"]))
        if o is None:
            continue
        # the improvement only: each path's own figures follow, per scenario
        if o.get("improvement") is not None or r.get("improvement") is not None:
            rows.append(_crow(f"{r['scenario']}: {r['metric']} (improvement)", "x", o.get("improvement"),
                              r.get("improvement"), _overlap(o.get("improvement_spread"),
                                                             r.get("improvement_spread"))))
    for name, sb in b.get("scenarios", {}).items():
        sa = a.get("scenarios", {}).get(name)
        if not sa:
            continue
        for p, vb in sb["paths"].items():
            va = sa["paths"].get(p)
            if not va:
                continue
            for q in ("p50", "p99", "p999", "stddev"):
                rows.append(_crow(f"{sb['title']}: {p} {q}", "ns", va["latency_ns"].get(q), vb["latency_ns"].get(q),
                                  _overlap(va["spread_ns"].get(q), vb["spread_ns"].get(q))))
            rows.append(_crow(f"{sb['title']}: {p} lost pkts", "packets", va["lost_pkts"], vb["lost_pkts"], None))
    return rows


def compare_summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many figures with a spread moved out of it."""
    judged = [r for r in rows if r["within_spread"] is not None]
    return {"figures": len(rows), "with_spread": len(judged),
            "within_spread": sum(1 for r in judged if r["within_spread"])}


def _crow(label: str, unit: str, va: float | None, vb: float | None, within: bool | None) -> dict[str, Any]:
    change = (vb / va - 1) if va and vb is not None else None
    return {"figure": label, "unit": unit, "a": va, "b": vb, "change": change, "within_spread": within}
