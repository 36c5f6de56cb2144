"""`wirespeed trade` and `wirespeed demo --trade`: the job from flags and from a
TOML config, its errors, and the whole loop - a simulator taking orders,
a capture, the C trader - ending with fills the exchange agrees with."""
from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from wirespeed.capture import runner as cap
from wirespeed.errors import UsageError
from wirespeed.exchange import sim as S
from wirespeed.monitor.metrics import RingCollector
from wirespeed.status import read_statuses
from wirespeed.trade import runner as tr

_ports = itertools.count(16400)


def test_list_strategies_and_usage_errors() -> None:
    p = run_cli("trade", "--list-strategies", "--json")
    assert p.returncode == 0 and set(json.loads(p.stdout)) == {"take_ask", "join_bid", "ping"}
    p = run_cli("trade", "-s", "S0001")
    assert p.returncode == 2 and "exchange's address" in p.stderr
    p = run_cli("trade", "-e", "127.0.0.1:1", "--user", "A", "--password", "B", "-s", "S1", "--ring", "/x",
                "--risk", "max_qty=5")
    assert p.returncode == 2 and "KEY=VALUE" in p.stderr
    p = run_cli("trade", "-e", "nohost", "--user", "A", "--password", "B", "-s", "S1", "--ring", "/x")
    assert p.returncode == 2 and "HOST:PORT" in p.stderr
    p = run_cli("trade", "-e", "127.0.0.1:1", "--user", "A", "--password", "B", "-s", "S1", "--ring", "/x",
                "--strategy", "nonesuch")
    assert p.returncode == 2 and "no strategy" in p.stderr


def test_a_config_file_and_its_mistakes(tmp_path: Path) -> None:
    good = tmp_path / "t.toml"
    good.write_text('symbols = ["S0001"]\nstrategy = "join_bid"\nparams = "qty=10"\nring = "/dev/shm/x"\n'
                    'rtx = "198.18.0.2:31000"\n'
                    '[session]\nhost = "127.0.0.1"\nport = 15000\nuser = "WSTEST"\npassword = "WSTEST"\n'
                    '[risk]\nmax_position = 500\nrestricted = ["S0002"]\n[risk.symbols.S0001]\nmax_position = 100\n')
    cfg = tr.TradeConfig.from_toml(good).validate()
    assert cfg.strategy == "join_bid" and cfg.risk.symbol("S0001").max_position == 100
    assert cfg.rtx == ("198.18.0.2", 31000)
    assert cfg.risk.symbol("S0002").restricted and cfg.risk.symbol("S0003").max_position == 500
    for text, what in (('symbols = ["A"]\nbogus = 1\n', "unknown setting"),
                       ('[risk]\nmax_pos = 1\n', "unknown key"),
                       ('[risk]\nmax_position = -1\n', "positive"),
                       ('[session]\nhots = "x"\n', "session"),
                       ('symbols = [\n', "TOML"),
                       ('rtx = "nohost"\n', "HOST:PORT")):
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(UsageError, match=what):
            tr.TradeConfig.from_toml(bad).validate()


def test_trade_on_a_running_capture_ring(tmp_path: Path, ring_path: str) -> None:
    """The CLI on loopback: a simulator taking orders, `capture` into a ring, `trade
    --ring` buying S0001 at its ask whenever the ask is under a limit, within limits."""
    port = next(_ports)
    feed = 31000 + port % 1000
    acct = S.Account("WSTEST", "WSTEST", collar_pct=0)
    scfg = S.SimConfig(lines=[S.Line("127.0.0.1", feed)], iface="lo", source="127.0.0.1", rate=2000, duration_s=30,
                       symbols=1, ouch_port=port, ouch_accounts=(acct,))
    ccfg = cap.CaptureConfig(iface="lo", feeds=[cap.FeedSpec("itch", "127.0.0.1", feed)], ring=ring_path,
                             ring_size="64M").validate()
    with cap.Background(ccfg), S.start(scfg) as sim:
        limit = (sim.symbols()["S0001"] + 1500) / 10_000
        seen: list[dict] = []

        def watch() -> None:  # what top and metrics see of the trader while it runs
            while not seen:
                for st in read_statuses(ring_path):
                    if st.role == "trade" and st.doc["orders"]["fills"]:
                        fams = {f.name: f for f in RingCollector([ring_path]).collect()}
                        seen.append({"status": st.doc, "fills": fams["wirespeed_order_fills"].samples[0].value,
                                     "up": fams["wirespeed_order_session_up"].samples[0].value})
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        p = run_cli("trade", "--ring", ring_path, "-e", f"127.0.0.1:{port}", "--user", "WSTEST", "--password",
                    "WSTEST", "--journal", str(tmp_path / "j"), "-s", "S0001", "--strategy", "take_ask",
                    "--params", f"limit={limit:.2f},qty=100", "--risk", "max_position=500", "--risk",
                    "max_orders_per_s=50", "--duration", "4", "--json", timeout=60)
        assert p.returncode == 0, p.stderr
        res = json.loads(p.stdout)
        port_st = sim.order_stats()
    assert seen, "the trader never published its order session"
    assert seen[0]["fills"] == seen[0]["status"]["orders"]["fills"] <= res["fills"] and seen[0]["up"] == 1
    assert "sessions" in seen[0]["status"] and not [s for s in read_statuses(ring_path) if s.role == "trade"]
    assert res["link"] == "up" and res["fills"] > 0 and res["seq_lost"] == 0
    assert res["positions"]["S0001"]["position"] == port_st["filled_shares"] <= 500
    assert res["fills"] == port_st["fills"] == res["executions_total"]
    assert res["refused"].get("position", 0) > 0  # the limit did its work
    assert {e["match"] for e in res["executions"]} and res["canceled_at_exit"]


@pytest.mark.privileged
def test_demo_trade_finds_every_fill_in_the_captured_feed() -> None:
    p = run_cli("demo", "--trade", "--duration", "6", "--rate", "5000", "--json", timeout=180)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["transport"] == "af_xdp", res["notes"]
    assert res["fills"] > 0 and res["fills_in_feed"] == res["fills"] == res["port"]["fills"]
    assert res["trade"]["link"] == "up" and res["trade"]["seq_lost"] == 0


@pytest.mark.privileged
def test_trade_with_its_own_capture_and_its_own_tcp(testbed_cfg, tmp_path: Path) -> None:
    """`trade -i` on the test host with `--order-transport af_xdp`: the capture and
    the order session's user-space TCP share the interface's queue and XDP program;
    the fills are the exchange's, and the view's TCP counters are there."""
    tb = testbed_cfg
    port = next(_ports)
    acct = S.Account("WSTEST", "WSTEST", collar_pct=0)
    group, feed = "239.78.1.1", 31990
    scfg = S.SimConfig(lines=[S.Line(group, feed)], rate=2000, duration_s=30, symbols=1, netns=tb.netns,
                       iface=tb.peer_if, source=tb.peer_addr, ouch_port=port, ouch_accounts=(acct,))
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    p = subprocess.Popen([sys.executable, "-m", "wirespeed", "trade", "-i", tb.host_if, "--feed",
                          f"itch={group}:{feed}", "--order-transport", "af_xdp", "-e", f"{tb.peer_addr}:{port}",
                          "--user", "WSTEST", "--password", "WSTEST", "--journal", str(tmp_path / "j"), "-s", "S0001",
                          "--strategy", "take_ask", "--params", "limit=1000.00,qty=100", "--risk",
                          "max_position=500", "--risk", "max_orders_per_s=50", "--risk", "collar_bp=0",
                          "--duration", "5", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=REPO)
    time.sleep(1.5)  # the capture first: the books need the start of day
    with S.start(scfg) as sim:
        out, errs = p.communicate(timeout=60)
        port_st = sim.order_stats()
    assert p.returncode == 0, errs
    res = json.loads(out)
    assert res["transport"] == "af_xdp" and res["tcp"]["state"] in ("established", "time_wait", "closed")
    assert res["tcp"]["bad_csum"] == 0
    assert res["link"] == "up" and res["fills"] > 0 and res["seq_lost"] == 0
    assert res["fills"] == port_st["fills"] and res["positions"]["S0001"]["position"] == port_st["filled_shares"]
