"""The C core's layout rules (README, "Layout"), checked rather than hoped for:

- engine folders (every folder of native/ but python/) never include
  Python.h, directly or through another header: each engine file compiles
  with no Python include path at all;
- only native/python/ (the bindings) includes Python.h, and no engine file
  includes a binding header;
- project headers are included by their path from native/ ("ring/ring.h"),
  and the path exists;
- folders depend one way: the include graph between them has no cycle.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

NATIVE = Path(__file__).resolve().parents[2] / "src" / "wirespeed" / "native"
BINDINGS = "python"
_INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.MULTILINE)


def _sources() -> list[Path]:
    return sorted(p for p in NATIVE.rglob("*") if p.suffix in (".c", ".h"))


def _folder(p: Path) -> str:
    return p.relative_to(NATIVE).parts[0]


def _includes(p: Path) -> list[tuple[str, str]]:
    return _INCLUDE.findall(p.read_text())


def test_every_source_lives_in_a_folder() -> None:
    loose = [p.name for p in _sources() if p.parent == NATIVE]
    assert not loose, f"C files directly in native/ (put each in the folder of its layer): {loose}"


def test_only_bindings_include_python_h() -> None:
    bad = [str(p.relative_to(NATIVE)) for p in _sources()
           if _folder(p) != BINDINGS and any(name == "Python.h" for _, name in _includes(p))]
    assert not bad, f"engine files including Python.h (only native/{BINDINGS}/ may): {bad}"


def test_engines_never_include_bindings() -> None:
    bad = [f"{p.relative_to(NATIVE)} -> {name}" for p in _sources() if _folder(p) != BINDINGS
           for kind, name in _includes(p) if kind == '"' and name.startswith(f"{BINDINGS}/")]
    assert not bad, f"engine files including binding headers: {bad}"


def test_project_includes_are_paths_from_native() -> None:
    bad = [f"{p.relative_to(NATIVE)}: \"{name}\"" for p in _sources()
           for kind, name in _includes(p) if kind == '"' and not (NATIVE / name).is_file()]
    assert not bad, f'includes that are not an existing path from native/ (write "ring/ring.h"): {bad}'


def test_folders_depend_one_way() -> None:
    deps: dict[str, set[str]] = {}
    for p in _sources():
        for kind, name in _includes(p):
            if kind == '"' and "/" in name and name.split("/")[0] != _folder(p):
                deps.setdefault(_folder(p), set()).add(name.split("/")[0])

    def cycle_from(node: str, path: list[str]) -> list[str] | None:
        for nxt in sorted(deps.get(node, ())):
            if nxt in path:
                return path[path.index(nxt):] + [nxt]
            found = cycle_from(nxt, path + [nxt])
            if found:
                return found
        return None

    for start in sorted(deps):
        cyc = cycle_from(start, [start])
        assert cyc is None, f"folders include each other in a cycle: {' -> '.join(cyc)}"


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc on this machine (./setup.sh installs it)")
def test_engines_compile_without_python() -> None:
    """Catches Python.h reached through any chain of headers: with no Python
    include path, such a file cannot compile."""
    engines = [p for p in _sources() if p.suffix == ".c" and _folder(p) != BINDINGS]
    assert engines
    dpdk = subprocess.run(["pkg-config", "--cflags", "libdpdk"], capture_output=True, text=True)
    for p in engines:
        extra: list[str] = []
        if any(name.startswith("rte_") for _, name in _includes(p)):  # transports/dpdk.c: with DPDK's flags only
            if dpdk.returncode != 0:
                continue  # built only where libdpdk is (setup.py); nothing to check here
            extra = dpdk.stdout.split()
        proc = subprocess.run(["gcc", "-std=gnu11", "-D_GNU_SOURCE", "-fsyntax-only", "-I", str(NATIVE), *extra,
                               str(p)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{p.relative_to(NATIVE)} does not compile without Python:\n{proc.stderr}"
