"""Imports go down only (README, "Layout"; docs/architecture.md): a module
never imports, not even inside a function, from a package of a higher
layer. Packages of one layer may use each other (bench uses capture). A new
package fails here until it is given its layer."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "wirespeed"

LAYER = {
    "cli": 9, "__init__": 9, "__main__": 9,        # face
    "demo": 8, "bench": 8,                         # jobs that run the others
    "capture": 7, "exchange": 7, "host": 7,        # jobs: the capture side, the exchange side, the host,
    "trade": 7,                                    # and the trading side (books, strategy, order session)
    "products": 7,                                 # and the data products (exports of recordings)
    "monitor": 7,                                  # and watching it run (top, metrics)
    "book": 6,                                     # domain: books on top of the feed
    "feed": 5, "orders": 5,                        # domain: market-data and order-entry protocols
    "transports": 4,                               # transport
    "ring": 3, "formats": 3, "net": 3,             # memory, packets at rest, packet headers
    "status": 3,                                   # what a ring's readers publish beside it
    "xdp": 2, "system": 2,                         # kernel glue
    "errors": 1, "_native": 1, "__version__": 1,   # used by every layer
}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "wirespeed":
            out += [f"wirespeed.{a.name}" for a in node.names] if node.module == "wirespeed" else [node.module]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.split(".")[0] == "wirespeed" and a.name != "wirespeed"]
    return out


def test_every_package_has_a_layer() -> None:
    found = {p.stem if p.is_file() else p.name for p in PKG.iterdir()
             if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py")}
    missing = sorted(found - LAYER.keys())
    assert not missing, f"packages without a layer in tests/test_layers.py (decide where they sit): {missing}"


def test_imports_go_down_only() -> None:
    upward = []
    for path in sorted(PKG.rglob("*.py")):
        src = path.relative_to(PKG).parts[0].removesuffix(".py")  # cli/x.py -> cli, ring.py -> ring
        for target in _imports(path):
            dst = _package(target)
            if LAYER.get(dst, 0) > LAYER[src]:
                upward.append(f"{path.relative_to(PKG)} ({src}) imports {target} ({dst})")
    assert not upward, "imports going up a layer:\n" + "\n".join(upward)
