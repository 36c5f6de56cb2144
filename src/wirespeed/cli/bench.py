"""`wirespeed bench`: the benchmark report and its parts (ring, sim, capture, book, exchange, trade, send)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, err, fail, fmt_rate, goals_table, out, print_json
from wirespeed.errors import EXIT_FAILURE, EXIT_OK, WirespeedError

app = typer.Typer(
    help=(
        "Reproducible benchmarks. Every figure that matters is a ratio against a peer or a physical "
        "floor measured in the same run: this machine is shared and its absolute speed varies.\n\n"
        "`wirespeed bench` alone (root; about 8 minutes, 11 with the dpdk path, --quick under 3) runs everything "
        "on the test host: kernel/block, kernel/busy, af_xdp and (where built with DPDK) dpdk against external "
        "peers (sockperf ping-pong, dpdk-testpmd) in "
        "four scenarios (single feed, four feeds, background traffic, bursts), with full latency distributions "
        "(HdrHistogram; sent -> received, from each packet's kernel TX stamp, with the sender's own share "
        "beside it, and each tail's samples and 95 % band), loss, max loss-free rate and receiver CPU per "
        "packet, the receive core's own stalls, plus the ring, sim and capture "
        "sub-benchmarks. It writes results.json (versioned), report.md (Key Results in seed 001's shape), PNG "
        "plots and a self-contained report.html; --compare A.json B.json puts two runs side by side.\n\n"
        "The sub-commands run one part."
    ),
    invoke_without_command=True,
)


def _warnings(res: dict[str, Any]) -> None:
    for w in res.get("warnings", []):
        err.print(f"[yellow]warning:[/] {w}")


def _run_bench(run: Any, opts: Any, what: str, as_json: bool) -> dict[str, Any]:
    """Run a benchmark: quietly for --json, else with its steps on a status
    line; failures (a child process's included) become one-line errors."""
    try:
        if as_json:
            return run(opts)
        with err.status(f"benchmarking {what}") as status:
            return run(opts, lambda m: status.update(f"{what} benchmark: {m}"))
    except (RuntimeError, WirespeedError) as exc:
        raise fail(exc if isinstance(exc, WirespeedError) else WirespeedError(str(exc))) from None


@app.callback()
def bench_report(
    ctx: typer.Context,
    out_dir: Annotated[Optional[str], typer.Option("--out", "-o", help="Folder for results.json, report.md, report.html and the plots (default: ./wirespeed-bench-DATE-TIME).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Everything once, briefly (under 2 minutes): checks that it all runs and the report's shape. Not figures to quote.")] = False,
    repeats: Annotated[Optional[int], typer.Option("--repeats", "-n", min=1, help="Runs per path and scenario (default 3; --quick 1); the report gives their spread.")] = None,
    run_s: Annotated[Optional[float], typer.Option("--run-s", min=1.0, help="Seconds per run (default 4; --quick 1.2).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="The simulator's seed (same seed, same messages).")] = 1,
    scenarios: Annotated[Optional[str], typer.Option("--scenarios", help="Comma-separated subset of: single, multi, background, bursts.")] = None,
    no_sub: Annotated[bool, typer.Option("--no-sub", help="Skip the ring, sim and capture sub-benchmarks.")] = False,
    no_testpmd: Annotated[bool, typer.Option("--no-testpmd", help="Skip the dpdk-testpmd peer.")] = False,
    compare: Annotated[Optional[tuple[str, str]], typer.Option("--compare", metavar="A.json B.json", help="Show two results.json side by side with changes, and whether B is within A's spread; measures nothing.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The whole benchmark report (the group's help says what it measures)."""
    if ctx.invoked_subcommand is not None:
        return
    from dataclasses import replace
    from datetime import datetime

    from wirespeed.bench import render
    from wirespeed.bench import report as rp

    if compare:
        try:
            a, b = render.load(compare[0]), render.load(compare[1])
        except render.ResultsError as exc:
            raise fail(WirespeedError(str(exc), "give two results.json files written by `wirespeed bench`")) from None
        rows = render.compare(a, b)
        if as_json:
            print_json({"a": compare[0], "b": compare[1], "summary": render.compare_summary(rows), "rows": rows})
        else:
            _compare_table(rows, compare[0], compare[1])
        raise typer.Exit(EXIT_OK)
    opts = rp.QUICK if quick else rp.ReportOptions()
    opts = replace(opts, seed=seed, sub=not no_sub, testpmd=not no_testpmd,
                   repeats=repeats if repeats is not None else opts.repeats,
                   run_s=run_s if run_s is not None else opts.run_s)
    if scenarios:
        opts = replace(opts, scenarios=tuple(x.strip() for x in scenarios.split(",") if x.strip()))
    folder = out_dir or datetime.now().strftime("wirespeed-bench-%Y%m%d-%H%M%S")
    try:
        if as_json:
            res = rp.run(opts)
        else:
            res = _with_progress(rp.run, opts)
        files = render.write(res, folder)
    except (RuntimeError, WirespeedError) as exc:
        raise fail(exc if isinstance(exc, WirespeedError) else WirespeedError(str(exc))) from None
    if as_json:
        print_json({**res, "files": files})
    else:
        _key_results_table(res)
        if res.get("goals"):
            goals_table(res, "goals (issue #18; p99 is sent -> received)")
        out.print(f"report: [bold]{files['report_html']}[/] (and report.md, results.json, "
                  f"{len(files['plots'])} plots in {files['folder']})")
    raise typer.Exit(EXIT_OK)


def _with_progress(run: Callable[..., dict[str, Any]], opts: Any) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]bench[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TextColumn("{task.description}"), console=err, transient=True) as prog:
        task = prog.add_task("starting", total=None)

        def progress(msg: str, done: int, total: int) -> None:
            prog.update(task, completed=done, total=total, **({"description": msg} if msg else {}))

        return run(opts, progress)


def _key_results_table(res: dict[str, Any]) -> None:
    from wirespeed.bench import render
    from wirespeed.bench.report import BYPASS, KERNEL

    t = Table(title=f"Key Results (kernel = {KERNEL}, bypass = {BYPASS}; run-by-run range in brackets)"
              + ("  [yellow]QUICK: not figures to quote[/]" if res["options"].get("quick") else ""))
    dpdk = any(r.get("dpdk") is not None for r in res["key_results"])
    for col in ("scenario", "metric", "kernel", "bypass", *(["dpdk"] if dpdk else []), "improvement"):
        t.add_column(col, justify="left" if col in ("scenario", "metric") else "right")
    for r in res["key_results"]:
        t.add_row(r["scenario"], r["metric"], render.fmt_value(r["kernel"], r["unit"]),
                  render.fmt_value(r["bypass"], r["unit"]),
                  *([render.fmt_value(r.get("dpdk"), r["unit"])] if dpdk else []), render.fmt_improvement(r))
    out.print(t)
    for p in res.get("peers_missing", []):
        err.print(f"[yellow]peer missing:[/] {p}")
    _warnings(res)


def _compare_table(rows: list[dict[str, Any]], a: str, b: str) -> None:
    from wirespeed.bench import render

    t = Table(title=f"A = {a}\nB = {b}")
    for col in ("figure", "A", "B", "change", "within A's spread"):
        t.add_column(col, justify="left" if col == "figure" else "right")
    for r in rows:
        unit = r["unit"]
        fa, fb = render.fmt_value(r["a"], unit), render.fmt_value(r["b"], unit)
        ch = "-" if r["change"] is None else f"{r['change'] * 100:+.1f} %"
        w = {True: "[green]yes[/]", False: "[red]no[/]", None: "[dim]-[/]"}[r["within_spread"]]
        t.add_row(r["figure"], fa, fb, ch, w)
    out.print(t)
    sm = render.compare_summary(rows)
    out.print(f"{sm['within_spread']} of {sm['with_spread']} figures with a per-run spread: B within A's "
              f"(their per-run ranges overlap)")


@app.command("ring")
def bench_ring(
    quick: Annotated[bool, typer.Option("--quick", help="Fewer records and rounds (about 20 s): a smoke run.")] = False,
    directory: Annotated[str, typer.Option("--dir", help="Where the benchmark's ring files go (hugetlbfs or tmpfs).")] = "/dev/shm",
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if any goal of the issue is missed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The ring against its floor and its peers: ping-pong, C->C loss-free throughput
    (against a bare 64-byte-lines probe) and latency, the Python batch reader, multiprocessing.Queue, faster-fifo, pyzmq ipc://, and the
    writer with four readers attached. Takes about a minute; needs two cores.
    """
    from dataclasses import replace
    from pathlib import Path

    from wirespeed.bench import ring as rb

    opts = replace(rb.QUICK if quick else rb.RingBenchOptions(), directory=Path(directory))
    res = _run_bench(rb.run, opts, "ring", as_json)
    if as_json:
        print_json(res)
    else:
        _ring_table(res)
    missed = [g for g in res["goals"] if g["met"] is False]
    raise typer.Exit(EXIT_FAILURE if check and missed else EXIT_OK)


def _ring_table(r: dict[str, Any]) -> None:
    t = Table(title=f"wirespeed bench ring  (cores {r['cores']}, TSC {r['tsc_ghz']:.2f} GHz, {r['record_bytes']}-byte records)")
    for col in ("measure", "value", "compared with", "ratio"):
        t.add_column(col, justify="right" if col in ("value", "ratio") else "left")
    t.add_row("cache-line ping-pong, one way p50", f"{r['pingpong_ns_p50']:.1f} ns", "the physical floor", "")
    t.add_row("ring one-way latency p50", f"{r['ring_lat_ns_p50']:.1f} ns", "ping-pong, same round",
              f"{r['ring_lat_over_pingpong']:.2f}x")
    for p in ("p90", "p99", "p999"):
        t.add_row(f"ring one-way latency {p}", f"{r[f'ring_lat_ns_{p}']:.1f} ns", "", "")
    t.add_row("  impossible samples left out", f"{r['ring_lat_impossible']:,}",
              f"ping-pong {r['pingpong_impossible']:,}", "")
    best = r["best_peer_rec_per_s"]
    t.add_row("C writer -> C reader, loss-free", fmt_rate(r["ring_c_lossfree_rec_per_s"]), f"best peer {fmt_rate(best)}",
              f"{r['ring_c_over_best_peer']:.1f}x" if r["ring_c_over_best_peer"] else "")
    t.add_row("bare 64-byte lines probe, loss-free", fmt_rate(r["ring_probe_rec_per_s"]), "the ring, same rounds",
              f"{r['ring_lossfree_over_probe']:.2f}x" if r.get("ring_lossfree_over_probe") else "")
    t.add_row("  C writer flat out with the reader", fmt_rate(r["ring_c_writer_rec_per_s"]),
              f"lost {', '.join(f'{x:,}' for x in r['ring_c_flatout_lost'])} per round", "")
    t.add_row("Python batch reader (numpy headers)", fmt_rate(r["ring_py_rec_per_s"]), f"best peer {fmt_rate(best)}",
              f"{r['ring_py_over_best_peer']:.1f}x" if r["ring_py_over_best_peer"] else "")
    t.add_row("Python zero-copy reader (+verify)", fmt_rate(r["ring_py_zero_copy_rec_per_s"]), "", "")
    for name in ("mp_queue", "faster_fifo", "pyzmq_ipc"):
        t.add_row(f"peer {name}", fmt_rate(r.get(f"peer_{name}_rec_per_s")), "", "")
    t.add_row("writer flat out, alone", fmt_rate(r["writer_rec_per_s_alone"]), "", "")
    t.add_row("writer flat out, 4 readers chasing it", fmt_rate(r["writer_rec_per_s_4readers"]), "alone",
              f"{r['writer_4readers_over_alone']:.2f}x")
    t.add_row("writer paced, 4 readers attached", fmt_rate(r["writer_paced_4readers_rec_per_s"]),
              f"target {fmt_rate(r['writer_paced_target_rec_per_s'])}", f"{r['writer_paced_4readers_ratio']:.3f}x")
    out.print(t)
    _warnings(r)
    goals_table(r, "goals (issue #3)")


@app.command("sim")
def bench_sim(
    quick: Annotated[bool, typer.Option("--quick", help="One repeat, fewer messages (a smoke run).")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if any goal of the issue is missed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The simulator's send rate against trafgen on the same veth, and its rate accuracy.

    Needs root: it uses the test host, making it if needed and removing what it made.
    """
    from wirespeed.bench import sim as sb

    if quick:
        opts = sb.SimBenchOptions(msgs=1_000_000, trafgen_pkts=200_000, repeats=1, accuracy_s=0.5)
    else:
        opts = sb.SimBenchOptions()
    res = _run_bench(sb.run, opts, "sim", as_json)
    if as_json:
        print_json(res)
    else:
        t = Table(title="wirespeed bench sim (test host veth, one core)")
        for col in ("measure", "value", "compared with", "ratio"):
            t.add_column(col, justify="right" if col in ("value", "ratio") else "left")

        def peer(key: str) -> str:
            return f"trafgen {res[key]:,.0f}" if res.get(key) else "trafgen missing"

        def ratio(key: str) -> str:
            return f"{res[key]:.2f}x" if res.get(key) else ""

        t.add_row("realistic fill (stated, mean {:.1f} msgs)".format(res["realistic_fill_mean"]),
                  f"{res['realistic_msgs_per_packet']:.2f} msgs a packet", f"{res['frame_bytes']} B frames", "")
        t.add_row("flat out, realistic fill, raw", f"{res['sim_pps']:,.0f} pkt/s", peer("trafgen_pps"),
                  ratio("sim_over_trafgen_pps"))
        t.add_row("  messages/s", f"{res['sim_msgs_per_s'] / 1e6:,.2f} M", "", "")
        t.add_row("flat out, realistic fill, kernel UDP", f"{res['sim_udp_pps']:,.0f} pkt/s", peer("trafgen_pps"),
                  ratio("sim_udp_over_trafgen_pps"))
        t.add_row("flat out, full 1400 B packets, raw", f"{res['sim_full_pps']:,.0f} pkt/s", peer("trafgen_full_pps"),
                  ratio("sim_full_over_trafgen_pps"))
        t.add_row("  messages/s", f"{res['sim_full_msgs_per_s'] / 1e6:,.2f} M",
                  f"{res['sim_full_msgs_per_packet']:.1f} per packet", "")
        for rate, v in res["rate_achieved_over_asked"].items():
            t.add_row(f"rate accuracy at {int(rate):,} msg/s", f"{v:.4f}", "achieved / asked", "")
        out.print(t)
        goals_table(res, "goals (issues #4, #18)")
    missed = [g for g in res["goals"] if g["met"] is False]
    raise typer.Exit(EXIT_FAILURE if check and missed else EXIT_OK)


@app.command("capture")
def bench_capture(
    quick: Annotated[bool, typer.Option("--quick", help="One latency run, short trials, 3 s confirmation, 64 MB recorder test (about 1.5 min): a smoke run.")] = False,
    confirm_s: Annotated[Optional[float], typer.Option("--confirm-s", help="How long the best loss-free rate is held (default 60 s; --quick 3 s).")] = None,
    record_dir: Annotated[Optional[str], typer.Option("--record-dir", help="Filesystem for the recorder-vs-dd test (default: a new folder in /var/tmp).")] = None,
    no_testpmd: Annotated[bool, typer.Option("--no-testpmd", help="Skip the dpdk-testpmd peer.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if any goal of the issue is missed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """kernel/block, kernel/busy, af_xdp and (where wirespeed was built with DPDK) dpdk against
    each other and dpdk-testpmd, on the test host: one-way latency at 10 k msg/s, drain rate of a
    filled queue, max loss-free rate (held 60 s), and pcapng recording against dd oflag=direct.
    About 7 minutes, 16 with the dpdk path (which gets 2 MB hugepages reserved for the run and
    put back after); needs root.
    """
    from wirespeed.bench import capture as cb

    opts = cb.CaptureBenchOptions(lat_s=2.0, repeats=1, drain_pkts=10_000, trial_s=1.0, confirm_s=3.0, bisect_steps=3,
                                  record_mb=64) if quick else cb.CaptureBenchOptions()
    from dataclasses import replace

    opts = replace(opts, record_dir=record_dir, testpmd=not no_testpmd,
                   confirm_s=confirm_s if confirm_s is not None else opts.confirm_s)
    res = _run_bench(cb.run, opts, "capture", as_json)
    if as_json:
        print_json(res)
    else:
        _bench_capture_table(res)
        goals_table(res, "goals (issue #5)")
    missed = [g for g in res["goals"] if g["met"] is False]
    raise typer.Exit(EXIT_FAILURE if check and missed else EXIT_OK)


@app.command("book")
def bench_book(
    quick: Annotated[bool, typer.Option("--quick", help="500 k messages, 2 rounds, meatpy on 20 k (a smoke run, seconds).")] = False,
    msgs: Annotated[Optional[int], typer.Option("--msgs", min=1000, help="Messages in the simulated day (default 5 M).")] = None,
    live: Annotated[bool, typer.Option("--live/--no-live", help="Also measure tick to book on the test host (root; about 10 s).")] = True,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if any goal of the issue is missed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Book building from an in-memory ITCH 5.0 day, one core: the C engine against
    itch-book (C++ core, Python API) and meatpy (pure Python) on the same simulator messages.
    As root, also tick to book live on the test host: capture stamp -> ring -> Books.follow
    (the C loop) -> book updated, p50/p99 per record. About a minute.
    """
    from dataclasses import replace

    from wirespeed.bench import book as bb

    opts = bb.BookBenchOptions(msgs=500_000, rounds=2, meatpy_msgs=20_000, live_s=1.5) if quick else bb.BookBenchOptions()
    opts = replace(opts, live=live)
    if msgs is not None:
        opts = replace(opts, msgs=msgs)
    res = _run_bench(bb.run, opts, "book", as_json)
    if as_json:
        print_json(res)
    else:
        t = Table(title=f"wirespeed bench book ({res['msgs']:,} simulator messages, {res['symbols']} stocks, "
                        "in memory, one core)")
        for col in ("builder", "msgs/s", "wirespeed is"):
            t.add_column(col, justify="left" if col == "builder" else "right")
        t.add_row("wirespeed BookEngine (C)", fmt_rate(res["book_msgs_per_s"]), "")
        for name, key, ratio in (("itch-book (C++, Session.feed)", "itchbook_msgs_per_s", "book_over_itchbook"),
                                 ("meatpy (pure Python)", "meatpy_msgs_per_s", "book_over_meatpy")):
            t.add_row(name, fmt_rate(res.get(key)), f"{res[ratio]:.2f}x" if res.get(ratio) else "")
        out.print(t)
        if res.get("tick_to_book_ns_p50") is not None:
            lt = Table(title="tick to book, live on the test host: capture stamp -> book updated")
            for col in ("reader", "records", "lost", "p50", "p90", "p99", "p99.9", "max"):
                lt.add_column(col, justify="left" if col == "reader" else "right")
            for name, key in (("C: Books.follow", "tick_to_book"),
                              ("Python: poll + records", "tick_to_book_py")):
                if res.get(f"{key}_ns_p50") is None:
                    continue
                lt.add_row(name, f"{res[f'{key}_records']:,}", f"{res[f'{key}_lost_msgs']:,}",
                           *(f"{res[f'{key}_ns_{q}'] / 1000:,.1f} µs" for q in ("p50", "p90", "p99", "p999", "max")))
                if res.get(f"{key}_impossible"):
                    err.print(f"[yellow]warning:[/] {name}: {res[f'{key}_impossible']:,} impossible samples "
                              "(below 0 or above 100 s: the clock stepped) left out")
            out.print(lt)
        elif res.get("tick_to_book_skipped"):
            err.print(f"tick to book not measured: {res['tick_to_book_skipped']}")
        if res.get("meatpy_refused"):
            err.print(f"meatpy refused {res['meatpy_refused']:,} of {res['meatpy_msgs']:,} messages "
                      "(executions of orders not first in their level, which the simulator sends)")
        for m in res["peers_missing"]:
            err.print(f"[yellow]peer missing:[/] {m}")
        goals_table(res, "goals (issue #7)")
        if res["msgs"] < bb.BookBenchOptions().msgs:
            err.print("[dim]a shorter day than the default 5 M messages: the engine's cold start weighs more, "
                      "so judge the goals on a full run[/]")
    missed = [g for g in res["goals"] if g["met"] is False]
    raise typer.Exit(EXIT_FAILURE if check and missed else EXIT_OK)


@app.command("exchange")
def bench_exchange(
    quick: Annotated[bool, typer.Option("--quick", help="Fewer orders, one round, two feed rates (about 10 s): a smoke run.")] = False,
    rtt: Annotated[bool, typer.Option("--rtt/--no-rtt", help="Also the order port's round trip on the test host (root; about 40 s).")] = True,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if any goal of the issue is missed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The exchange simulator's matching engine and order port, each against a peer in the same run.

    Matching, one core, in memory: an enter/cancel/replace mix (half the enters cross) through the
    C engine, the Python reference matcher the tests hold it to, and lightmatchingengine (PyPI, pure
    Python). As root, the order port on the test host: Enter -> Accepted round trips over kernel
    TCP from a C client, p50/p99, against sockperf ping-pong --tcp between the same namespaces, both
    on one core; the goal is judged with the feed all but idle, and the round trip with the feed at
    1 k and 10 k msg/s is shown beside it.
    """
    from dataclasses import replace

    from wirespeed.bench import exchange as xb

    opts = replace(xb.QUICK if quick else xb.ExchangeBenchOptions(), rtt=rtt)
    res = _run_bench(xb.run, opts, "exchange", as_json)
    if as_json:
        print_json(res)
    else:
        _bench_exchange_tables(res)
    missed = [g for g in res["goals"] if g["met"] is False]
    raise typer.Exit(EXIT_FAILURE if check and missed else EXIT_OK)


def _bench_exchange_tables(res: dict[str, Any]) -> None:
    t = Table(title=f"matching, one core, in memory ({res['match_ops']:,} orders on {res['symbols']} books; "
                    "enter/cancel/replace, half the enters cross)")
    for col in ("engine", "orders/s", "wirespeed is"):
        t.add_column(col, justify="left" if col == "engine" else "right")
    t.add_row("wirespeed MatchEngine (C)", fmt_rate(res["match_orders_per_s"]), "")
    t.add_row(f"Python reference matcher ({res['match_py_ops']:,} orders, same events)",
              fmt_rate(res["match_py_orders_per_s"]), f"{res['match_over_py']:.0f}x")
    if res.get("match_lme_orders_per_s"):
        t.add_row("lightmatchingengine (PyPI, pure Python)", fmt_rate(res["match_lme_orders_per_s"]),
                  f"{res['match_over_lme']:.0f}x")
    out.print(t)
    if res.get("ack_rtt_us_p50") is not None:
        r = Table(title=f"Enter -> Accepted round trip, test host veth, kernel TCP, one core "
                        f"({res['rtt_orders_per_run']:,} orders x {res['rtt_repeats']} at {res['rtt_rate']:,.0f}/s)")
        for col in ("round trip", "p50", "p90", "p99", "p99.9", "/ sockperf"):
            r.add_column(col, justify="left" if col == "round trip" else "right")

        def row(name: str, key: str, ratio: str | None) -> None:
            r.add_row(name, *(f"{res[f'{key}_us_{q}']:,.1f} µs" for q in ("p50", "p90", "p99", "p999")),
                      f"{res[ratio]:.2f}x" if ratio and res.get(ratio) is not None else "")

        rates = res["rtt_feed_rates"]
        row(f"order port, feed {rates[0]:,.0f} msg/s", "ack_rtt", "ack_rtt_over_sockperf")
        for rate in rates[1:]:
            row(f"order port, feed {rate:,.0f} msg/s", f"ack_rtt_feed_{rate:.0f}",
                f"ack_rtt_feed_{rate:.0f}_over_sockperf")
        if res.get("sockperf_tcp_rtt_us_p50") is not None:
            row("sockperf --tcp, 64 B", "sockperf_tcp_rtt", None)
        out.print(r)
    elif res.get("rtt_skipped"):
        err.print(f"order port round trip not measured: {res['rtt_skipped']}")
    for m in res["peers_missing"]:
        err.print(f"[yellow]peer missing:[/] {m}")
    goals_table(res, "goals (issue #9)")


@app.command("trade")
def bench_trade(
    quick: Annotated[bool, typer.Option("--quick", help="One short run of each path (about 40 s): a smoke run, not figures to quote.")] = False,
    feed_rate: Annotated[Optional[float], typer.Option("--feed-rate", help="ITCH messages/s of the simulator's one symbol (default 1000).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if any goal of the issue is missed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Tick-to-trade, measured by the exchange: ITCH packet sent -> the order it triggered received.

    As root, on the test host. The simulator stamps each packet as it sends it and each OUCH order
    as its kernel receives it; the strategy (ping: an IOC buy at the bid at every BBO change) puts
    the triggering packet's sequence number in the order's ClOrdID. Paths, interleaved: af_xdp
    capture + the C trader, the same with the order session over wirespeed's own TCP over AF_XDP
    (sharing the capture's queue), kernel_block capture + the C trader, and the idiomatic Python
    loop (RingReader.poll + Books.records + a Python decision + socket.send). Floors in the same
    run: af_xdp one-way receive and a bare TCP one-way 50-byte write. Also the risk checks timed
    alone. About 3 minutes (--quick: 50 s).
    """
    from dataclasses import replace

    from wirespeed.bench import trade as tb

    opts = tb.QUICK if quick else tb.TradeBenchOptions()
    if feed_rate is not None:
        opts = replace(opts, feed_rate=feed_rate)
    res = _run_bench(tb.run, opts, "trade", as_json)
    if as_json:
        print_json(res)
    else:
        _bench_trade_tables(res)
    missed = [g for g in res["goals"] if g["met"] is False]
    raise typer.Exit(EXIT_FAILURE if check and missed else EXIT_OK)


def _bench_trade_tables(res: dict[str, Any]) -> None:
    if res.get("t2t_skipped"):
        err.print(f"tick-to-trade not measured: {res['t2t_skipped']}")
    else:
        t = Table(title=f"tick-to-trade in µs, measured by the exchange (test host veth; feed "
                        f"{res['feed_rate']:,.0f} msg/s, {res['repeats']} x {res['seconds']:g} s per path; ping)")
        for col in ("path", "orders", "p50", "p90", "p99", "p99.9", "to capture", "after", "/ af_xdp+C"):
            t.add_column(col, justify="left" if col == "path" else "right")
        names = {"af_xdp_c": "af_xdp + C", "af_xdp_tcp": "af_xdp + C, own TCP", "kernel_c": "kernel_block + C",
                 "python": "af_xdp + Python"}
        a = res.get("t2t_us_p50_af_xdp_c")

        def us(v: Any) -> str:
            return f"{v:,.1f}" if isinstance(v, (int, float)) else "-"

        for p, name in names.items():
            if res.get(f"t2t_us_p50_{p}") is None:
                t.add_row(name, "0", *["-"] * 7)
                continue
            ratio = "" if p == "af_xdp_c" or not a else f"{res[f't2t_us_p50_{p}'] / a:.1f}x"
            t.add_row(name, f"{res[f't2t_n_{p}']:,}", *(us(res[f"t2t_us_{q}_{p}"]) for q in ("p50", "p90", "p99", "p999")),
                      us(res.get(f"t2t_capture_us_p50_{p}")), us(res.get(f"t2t_after_us_p50_{p}")), ratio)
        t.caption = ("to capture: packet sent -> capture stamp in the ring (p50); after: capture stamp -> order "
                     "received by the exchange (p50)")
        out.print(t)
        f = Table(title="floors, same run (p50)", show_header=False)
        f.add_column(style="bold")
        f.add_column(justify="right")
        f.add_row("af_xdp one-way receive (ITCH timestamp -> capture stamp)", f"{res['floor_rx_us_p50']:,.1f} µs")
        f.add_row("TCP one-way, 50-byte write (before write -> receiver's kernel stamp)",
                  f"{res['floor_tcp_us_p50']:,.1f} µs")
        f.add_row("floor: their sum", f"{res['floor_us_p50']:,.1f} µs")
        f.add_row("af_xdp + C trader / floor", f"{res['t2t_over_floor']:.2f}x" if res.get("t2t_over_floor") else "-")
        out.print(f)
    out.print(f"pre-trade risk checks (all on), timed alone: p50 {res['risk_ns_p50']:.0f} ns, "
              f"p99 {res['risk_ns_p99']:.0f} ns per order")
    goals_table(res, "goals (issue #10)")


@app.command("send")
def bench_send(
    quick: Annotated[bool, typer.Option("--quick", help="One short run of each path (about 5 s): a smoke run.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if the goal is missed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """One-way send latency: the sender's trigger -> the receiving kernel's socket, on the test host.

    As root. The same 50-byte message (an Enter Order's size) through: send() on a connected TCP
    socket (TCP_NODELAY, busy polling); wirespeed's own TCP over AF_XDP to the same kind of
    socket; the same connection's bare pre-armed segment (the probe: what the TCP layer costs is
    the user-space TCP over it); send() on a connected UDP socket; and a pre-armed UDP frame from
    an AF_XDP socket's UMEM (headers and checksum constants built ahead; a send patches lengths
    and checksums and pushes one descriptor). Stamped before the send and by the receiver's
    kernel; paths interleaved. On veth the receiver's kernel work runs in the sender's call, so
    every figure holds it.
    """
    from wirespeed.bench import send as sb

    res = _run_bench(sb.run, sb.QUICK if quick else sb.SendBenchOptions(), "send", as_json)
    if as_json:
        print_json(res)
    else:
        if res.get("send_skipped"):
            err.print(f"not measured: {res['send_skipped']}")
        else:
            t = Table(title=f"one-way send in µs, trigger -> receiver's kernel (test host veth; "
                            f"{res['repeats']} x {res['n']:,} messages of 50 bytes at {res['rate']:,.0f}/s)")
            for col in ("path", "p50", "p90", "p99", "p99.9", "samples"):
                t.add_column(col, justify="left" if col == "path" else "right")
            for p, name in (("kernel_tcp", "kernel TCP send()"), ("af_xdp_tcp", "user-space TCP over AF_XDP"),
                            ("xdp_probe", "  bare segment (probe)"),
                            ("kernel_udp", "kernel UDP send()"), ("af_xdp_udp", "AF_XDP pre-armed UDP frame")):
                t.add_row(name, *(f"{res[f'send_us_{q}_{p}']:,.2f}" for q in ("p50", "p90", "p99", "p999")),
                          f"{res[f'send_n_{p}']:,}")
            out.print(t)
        goals_table(res, "goals (issue #11)")
    missed = [g for g in res["goals"] if g["met"] is False]
    raise typer.Exit(EXIT_FAILURE if check and missed else EXIT_OK)


def _bench_capture_table(res: dict[str, Any]) -> None:
    def f(v: Any, fmt: str = "{:,.1f}") -> str:
        return fmt.format(v) if isinstance(v, (int, float)) else "-"

    t = Table(title="wirespeed bench capture (test host veth; the sender's core also runs the receive path)")
    for col in ("path", "sent->rx p50 µs", "p99", "p99.9", "generated->sent p50", "p99 ", "drain pkt/s",
                "max loss-free pkt/s"):
        t.add_column(col, justify="left" if col == "path" else "right")
    paths = [p for p in ("kernel_block", "kernel_busy", "af_xdp", "dpdk") if f"drain_pps_{p}" in res]
    for p in paths:
        t.add_row(p if p != "dpdk" else "dpdk (net_af_xdp)", f(res.get(f"lat_us_p50_{p}_sent")),
                  f(res.get(f"lat_us_p99_{p}_sent")), f(res.get(f"lat_us_p999_{p}_sent")),
                  f(res.get(f"lat_us_p50_{p}_gen")), f(res.get(f"lat_us_p99_{p}_gen")),
                  f(res.get(f"drain_pps_{p}"), "{:,.0f}"), f(res.get(f"max_pps_{p}"), "{:,.0f}"))
    t.add_row("dpdk-testpmd (af_xdp pmd, rxonly)", "", "", "", "", "", "", f(res.get("max_pps_testpmd"), "{:,.0f}"))
    if "dpdk" in paths:
        t.caption = f"dpdk's memory: {res.get('dpdk_memory', '?')}"
    out.print(t)
    for p in paths:
        if res.get(f"lat_impossible_{p}"):
            err.print(f"[yellow]warning:[/] {p}: {res[f'lat_impossible_{p}']:,} impossible latency samples (below 0 "
                      "or above 100 s: the clock stepped) left out")
    r = Table(title="recorder", show_header=False)
    r.add_column(style="bold")
    r.add_column(justify="right")
    r.add_row("pcapng writing", f"{f(res.get('record_mb_per_s'))} MB/s")
    r.add_row("dd oflag=direct, same filesystem", f"{f(res.get('dd_mb_per_s'))} MB/s")
    r.add_row("recorder loss during af_xdp's max-rate hold", str(res.get("record_lost_at_max_rate")))
    out.print(r)
    for p in res.get("peers_missing", []):
        err.print(f"[yellow]peer missing:[/] {p}")


@app.command("export")
def bench_export(
    quick: Annotated[bool, typer.Option("--quick", help="A 500 k-message day, one run each (about 20 s): a smoke run.")] = False,
    directory: Annotated[Optional[str], typer.Option("--dir", help="Where the day and the exports go (default: a temporary directory).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if any goal of the issue is missed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A recorded day (the simulator's 5 M messages as pcapng) to Parquet and to DBN with
    `wirespeed export`, against the pandas path (the Python codec into a DataFrame, to_parquet)
    and databento-dbn's own encoder fed from Python; then DuckDB scans the export.
    Rates are the median of 5 runs in one process; the first run is also shown.
    Takes about a minute.
    """
    from dataclasses import replace
    from pathlib import Path

    from wirespeed.bench import export as eb

    opts = eb.QUICK if quick else eb.ExportBenchOptions()
    if directory:
        opts = replace(opts, directory=Path(directory))
    res = _run_bench(eb.run, opts, "export", as_json)
    if as_json:
        print_json(res)
    else:
        t = Table(title=f"wirespeed bench export  ({res['messages']:,} messages, {res['day_bytes'] / 1e6:,.0f} MB pcapng)")
        for col in ("measure", "value", "compared with", "ratio"):
            t.add_column(col, justify="right" if col in ("value", "ratio") else "left")
        t.add_row("export to Parquet", fmt_rate(res["export_parquet_msgs_per_s"]) + " msg",
                  f"pandas path {fmt_rate(res['pandas_path_msgs_per_s'])} msg", f"{res['export_over_pandas']:.1f}x")
        t.add_row(f"  the first of {res['repeats']} runs", fmt_rate(res["export_parquet_first_msgs_per_s"]) + " msg",
                  "one-time costs of the process", "")
        t.add_row("export to DBN", fmt_rate(res["export_dbn_msgs_per_s"]) + " msg", "", "")
        t.add_row("  DBN rows", fmt_rate(res["export_dbn_rows_per_s"]) + " rows",
                  f"databento-dbn encoder {fmt_rate(res['dbn_encoder_rows_per_s'])} rows",
                  f"{res['export_dbn_over_encoder']:.1f}x")
        t.add_row("DuckDB scan (count by symbol, action)", fmt_rate(res["duckdb_rows_per_s"]) + " rows",
                  f"{res['duckdb_threads']} threads", "")
        out.print(t)
        goals_table(res, "goals (issue #19)")
    missed = [g for g in res["goals"] if g["met"] is False]
    raise typer.Exit(EXIT_FAILURE if check and missed else EXIT_OK)
