"""`wirespeed top`: a live view of every ring on the host (Textual).

The main screen lists the rings: writer state, records/s and bytes/s with a
sparkline of the last minute, drops in all and their rate, the cause that
dropped most, the transport, the readers that publish their status. Enter
opens one ring: its layout and writer, every drop cause with count and rate,
the transport as the capture described it, each reader's position and
losses, its feed sessions (gaps, filled, lost, stale) and its order session
(link, orders, fills, rejects by check).

It only reads (monitor.rings): unprivileged where the ring files are
readable, nothing asked of the writer. The screens are built from plain
rows (`ring_rows`, `detail_sections`) so tests can check what is shown
without a terminal, and the app itself is driven headless with Textual's
pilot.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Sparkline, Static

from wirespeed.monitor.rings import Monitor, RingView
from wirespeed.status import order_rejects, reader_lag

SPARK = "▁▂▃▄▅▆▇█"
SORTS = ("name", "rate", "drops")
STATE_STYLE = {"alive": "green", "closed": "yellow", "dead": "bold red", "never": "dim", "gone": "dim red",
               "error": "bold red", "stuck": "bold yellow"}


def sparkline(values: Sequence[float], width: int = 20) -> str:
    """The last `width` values as block characters, scaled to their own maximum."""
    vals = list(values)[-width:]
    top = max(vals, default=0.0)
    if top <= 0:
        return SPARK[0] * len(vals)
    return "".join(SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1) + 0.5))] for v in vals)


def si(v: float, unit: str = "") -> str:
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= factor:
            return f"{v / factor:.2f} {prefix}{unit}"
    return f"{v:.0f} {unit}".rstrip()


COLUMNS = ("ring", "writer", "records/s", "bytes/s", "last minute", "drops", "drops/s", "top cause", "transport",
           "readers")


def ring_rows(views: list[RingView], sort: str = "name") -> list[tuple[str, list[str]]]:
    """(key, cells) per ring, in the order of `sort`: name, rate (busiest first) or drops (most first)."""
    if sort == "rate":
        views = sorted(views, key=lambda v: (-v.rate.records, -v.sample.records))  # idle now: the busiest before
    elif sort == "drops":
        views = sorted(views, key=lambda v: (-sum(v.sample.drops.values()), -v.rate.drops_total))
    else:
        views = sorted(views, key=lambda v: str(v.sample.path))
    rows = []
    for v in views:
        s = v.sample
        drops = s.drops
        total = sum(drops.values())
        cause = max(drops, key=lambda k: drops[k]) if total else ""
        t = s.transport
        transport = str(t.get("transport", "")) + (f" {t['iface']}" if t.get("iface") else "")
        readers = ", ".join(f"{r.role}({r.state})" if r.state != "alive" else r.role for r in s.readers)
        rows.append((str(s.path), [str(s.path), s.writer, si(v.rate.records), si(v.rate.bytes, "B"),
                                   sparkline(v.history), f"{total:,}", si(v.rate.drops_total), cause,
                                   transport, readers]))
    return rows


def detail_sections(v: RingView) -> dict[str, list[tuple[str, ...]]]:
    """One ring in detail, as titled tables of rows (what the detail screen shows)."""
    s = v.sample
    c = s.control
    out: dict[str, list[tuple[str, ...]]] = {}
    age = s.heartbeat_age_s
    out["writer"] = [("state", s.writer + (f" ({s.error})" if s.error else "")),
                     ("pid", str(c.get("writer_pid", ""))), ("epoch", str(c.get("epoch", ""))),
                     ("heartbeat", "never" if age is None else f"{age:.2f} s ago"),
                     ("records", f"{s.records:,} ({si(v.rate.records)}/s)"),
                     ("bytes", f"{s.bytes:,} ({si(v.rate.bytes, 'B')}/s)"),
                     ("layout", f"payload {c.get('payload_sz', 0):,} B, {c.get('entry_cnt', 0):,} entries, "
                                f"pages {c.get('page_sz', 0):,} B")]
    out["drops"] = [(cause, f"{n:,}", si(v.rate.drops.get(cause, 0.0)) + "/s") for cause, n in s.drops.items()]
    out["transport"] = [(k, _fmt(val)) for k, val in s.transport.items()]
    readers: list[tuple[str, ...]] = []
    feeds: list[tuple[str, ...]] = []
    orders: list[tuple[str, ...]] = []
    for r in s.readers:
        rd = r.doc.get("reader") or {}
        readers.append((r.role, str(r.pid), r.state, f"{r.age_s:.1f} s", f"{reader_lag(r.doc):,}",
                        f"{int(rd.get('lost', 0)):,}",
                        f"{int(rd.get('overruns', 0)):,}"))
        for name, f in (r.doc.get("sessions") or {}).items():
            feeds.append((f"{r.role}/{r.pid}", str(name), "stale" if f.get("stale") else "ok",
                          f"{int(f.get('messages', 0)):,}", f"{int(f.get('gaps', 0)):,}",
                          f"{int(f.get('gaps_filled', 0)):,}", f"{int(f.get('recovered', 0)):,}",
                          f"{int(f.get('lost', 0)):,}", f"{int(f.get('held_now', 0)):,}"))
        o = r.doc.get("orders")
        if o:
            refused = {k: n for k, n in order_rejects(o).items() if n}
            orders.append((f"{r.role}/{r.pid}", str(o.get("link", "")), f"{int((o.get('sent') or {}).get('O', 0)):,}",
                           f"{int(o.get('fills', 0)):,}", f"{int(o.get('open_orders', 0)):,}",
                           ", ".join(f"{k} {n:,}" for k, n in refused.items()) or "none"))
    out["readers"] = readers
    out["feed sessions"] = feeds
    out["order session"] = orders
    return out


DETAIL_HEADERS = {
    "writer": ("", ""), "drops": ("cause", "count", "rate"), "transport": ("", ""),
    "readers": ("role", "pid", "state", "status age", "lag (records)", "lost", "overruns"),
    "feed sessions": ("reader", "session", "state", "messages", "gaps", "filled", "recovered", "lost", "held"),
    "order session": ("reader", "link", "orders", "fills", "open", "rejects by check"),
}


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


class RingScreen(Screen[None]):
    """One ring in detail; Escape goes back."""

    BINDINGS: ClassVar = [Binding("escape,q", "app.pop_screen", "back")]

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(self.path, id="title")
            yield Sparkline([], id="rate")
            for name, headers in DETAIL_HEADERS.items():
                yield Static(f"[b]{name}[/b]")
                t: DataTable[str] = DataTable(id=name.replace(" ", "-"), show_header=any(headers), cursor_type="none")
                t.add_columns(*headers)
                yield t
        yield Footer()

    def show(self, view: RingView | None) -> None:
        if view is None:
            self.query_one("#title", Static).update(f"{self.path}: no longer found")
            return
        self.query_one("#title", Static).update(f"{self.path}  [{STATE_STYLE.get(view.sample.writer, '')}]"
                                                f"{view.sample.writer}[/]  records/s over the last minute:")
        self.query_one("#rate", Sparkline).data = list(view.history) or [0.0]
        for name, rows in detail_sections(view).items():
            t = self.query_one("#" + name.replace(" ", "-"), DataTable)
            t.clear()
            for row in rows:
                t.add_row(*row)


class TopApp(App[None]):
    """Every ring on the host, refreshed every `interval` seconds."""

    TITLE = "wirespeed top"
    BINDINGS: ClassVar = [
        Binding("q", "quit", "quit"),
        Binding("s", "sort", "sort: name/rate/drops"),
        Binding("o", "open", "open ring (or Enter)"),
        Binding("p", "pause", "pause"),
    ]

    def __init__(self, monitor: Monitor, interval: float = 1.0) -> None:
        super().__init__()
        self.monitor = monitor
        self.interval = interval
        self.sort = "name"
        self.paused = False
        self.views: dict[str, RingView] = {}

    def compose(self) -> ComposeResult:
        yield Header(show_clock=True)
        table: DataTable[str | Text] = DataTable(id="rings", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rings()
        self.set_interval(self.interval, self.refresh_rings)

    def refresh_rings(self) -> None:
        if self.paused:
            return
        views = self.monitor.poll()
        self.views = {str(v.sample.path): v for v in views}
        table = self.query_one("#rings", DataTable)
        selected = self.selected_ring()
        table.clear()
        keys = []
        for key, cells in ring_rows(views, self.sort):
            cells_t: list[str | Text] = list(cells)
            cells_t[1] = Text(cells[1], style=STATE_STYLE.get(cells[1], ""))
            if cells[5] != "0":
                cells_t[5] = Text(cells[5], style="bold red")
            table.add_row(*cells_t, key=key)
            keys.append(key)
        if selected in keys:
            table.move_cursor(row=keys.index(selected))
        self.query_one("#status", Static).update(
            f"{len(views)} ring(s)  sorted by {self.sort}  " + ("[b]paused[/b]" if self.paused else "")
            if views else "no rings found: start one with `wirespeed capture`, or name them: wirespeed top RING...")
        if isinstance(self.screen, RingScreen):
            self.screen.show(self.views.get(self.screen.path))

    def selected_ring(self) -> str | None:
        table = self.query_one("#rings", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.refresh_rings()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.query_one("#status", Static).update("[b]paused[/b] (p to go on)" if self.paused else "")

    def action_open(self) -> None:
        path = self.selected_ring()
        if path is None:
            return
        screen = RingScreen(path)
        self.push_screen(screen)
        self.call_after_refresh(screen.show, self.views.get(path))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "rings":
            self.action_open()

    def on_unmount(self) -> None:
        self.monitor.close()
