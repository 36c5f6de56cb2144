"""Build of the native core, ``wirespeed._native`` (C11, one extension).

Switches (environment):
  WIRESPEED_WERROR=1      warnings are errors (CI sets it; so does CI=true)
  WIRESPEED_SANITIZE=x    build with -fsanitize=x (address, undefined, ...)
  WIRESPEED_DEBUG=1       -O0 -g3
  WIRESPEED_DPDK=auto     build wirespeed._dpdk (the dpdk transport) where pkg-config finds
                          libdpdk >= 22.11; 1: require it (fail without); 0: never

The build probes for the kernel UAPI headers it needs instead of assuming them,
so a machine without them fails here with the package to install, not with a
wall of compiler errors.
"""
import os
import shlex
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup

NATIVE = Path("src/wirespeed/native")
# The dpdk transport's files: built into wirespeed._dpdk, apart, so that
# wirespeed._native never links DPDK. It compiles the ring and frame code it
# writes with (pure C); the RingWriter itself comes from _native (python/ring.h).
DPDK_ONLY = {"transports/dpdk.c", "python/dpdk.c"}
DPDK_SOURCES = ["transports/dpdk.c", "python/dpdk.c", "ring/ring.c", "net/frame.c"]
DPDK_MIN = "22.11"
# the headers the build needs, and the Debian package of each
REQUIRED_HEADERS = {"linux/bpf.h": "linux-libc-dev", "linux/if_xdp.h": "linux-libc-dev",
                    "linux/ethtool.h": "linux-libc-dev", "linux/if_link.h": "linux-libc-dev",
                    "zstd.h": "libzstd-dev"}  # the Parquet writer's page compression (products/parquet.c)


def _probe_headers() -> None:
    roots = [Path("/usr/include"), Path("/usr/local/include")]
    missing = [h for h in REQUIRED_HEADERS if not any((r / h).exists() for r in roots)]
    if missing:
        pkgs = " ".join(sorted({REQUIRED_HEADERS[h] for h in missing}))
        sys.exit(
            "wirespeed: headers missing: " + ", ".join(missing)
            + f"\n  fix: apt-get install {pkgs}   (or run ./setup.sh as root)"
        )


def _flags() -> list[str]:
    flags = ["-std=gnu11", "-Wall", "-Wextra", "-Wshadow", "-Wno-missing-field-initializers",
             "-fno-strict-aliasing", "-D_GNU_SOURCE"]
    if os.environ.get("WIRESPEED_WERROR") == "1" or os.environ.get("CI") == "true":
        flags.append("-Werror")
    if os.environ.get("WIRESPEED_DEBUG") == "1":
        flags += ["-O0", "-g3"]
    else:
        flags += ["-O3", "-g"]
    san = os.environ.get("WIRESPEED_SANITIZE")
    if san:
        flags += [f"-fsanitize={san}", "-fno-omit-frame-pointer"]
    return flags


def _dpdk_extension(flags: list[str]) -> list[Extension]:
    """wirespeed._dpdk where libdpdk is found (WIRESPEED_DPDK, above)."""
    want = os.environ.get("WIRESPEED_DPDK", "auto")
    if want == "0":
        return []

    def pkg(*args: str) -> str | None:
        try:
            r = subprocess.run(["pkg-config", *args, "libdpdk"], capture_output=True, text=True)
        except FileNotFoundError:
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    if pkg(f"--atleast-version={DPDK_MIN}") is None:
        if want == "1":
            sys.exit(f"wirespeed: WIRESPEED_DPDK=1 but pkg-config finds no libdpdk >= {DPDK_MIN}"
                     "\n  fix: apt-get install dpdk-dev   (or run ./setup.sh as root)")
        print(f"wirespeed: no libdpdk >= {DPDK_MIN}: building without the dpdk transport", file=sys.stderr)
        return []
    cflags = shlex.split(pkg("--cflags") or "")
    # DPDK's headers as system headers: our -Werror is for our code, not theirs.
    cflags = [f"-isystem{f[2:]}" if f.startswith("-I") else f for f in cflags]
    return [Extension(
        "wirespeed._dpdk",
        sources=[str(NATIVE / s) for s in DPDK_SOURCES],
        depends=sorted(str(p) for p in NATIVE.rglob("*.h")),
        include_dirs=[str(NATIVE)],
        extra_compile_args=flags + cflags + ["-DALLOW_EXPERIMENTAL_API"],
        extra_link_args=shlex.split(pkg("--libs") or "") + ([f"-fsanitize={san}"] if san else []),
    )]


if "egg_info" not in sys.argv and "dist_info" not in sys.argv:
    _probe_headers()

san = os.environ.get("WIRESPEED_SANITIZE")
building = "egg_info" not in sys.argv and "dist_info" not in sys.argv
setup(
    ext_modules=[
        Extension(
            "wirespeed._native",
            # One folder per layer or domain (native/ring, native/book, ...);
            # includes are written from native/ ("ring/ring.h"). Only
            # native/python/ includes Python.h (tests/test_native_layout.py).
            sources=sorted(str(p) for p in NATIVE.rglob("*.c") if p.relative_to(NATIVE).as_posix() not in DPDK_ONLY),
            depends=sorted(str(p) for p in NATIVE.rglob("*.h")),
            include_dirs=[str(NATIVE)],
            extra_compile_args=_flags(),
            libraries=["zstd"],
            extra_link_args=[f"-fsanitize={san}"] if san else [],
        )
    ] + (_dpdk_extension(_flags()) if building else []),
)
