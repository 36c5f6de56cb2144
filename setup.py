"""Build of the native core, ``wirespeed._native`` (C11, one extension).

Switches (environment):
  WIRESPEED_WERROR=1      warnings are errors (CI sets it; so does CI=true)
  WIRESPEED_SANITIZE=x    build with -fsanitize=x (address, undefined, ...)
  WIRESPEED_DEBUG=1       -O0 -g3

The build probes for the kernel UAPI headers it needs instead of assuming them,
so a machine without them fails here with the package to install, not with a
wall of compiler errors.
"""
import os
import sys
from pathlib import Path

from setuptools import Extension, setup

NATIVE = Path("src/wirespeed/native")
REQUIRED_HEADERS = ["linux/bpf.h", "linux/if_xdp.h", "linux/ethtool.h", "linux/if_link.h"]


def _probe_headers() -> None:
    roots = [Path("/usr/include"), Path("/usr/local/include")]
    missing = [h for h in REQUIRED_HEADERS if not any((r / h).exists() for r in roots)]
    if missing:
        sys.exit(
            "wirespeed: kernel UAPI headers missing: " + ", ".join(missing)
            + "\n  fix: apt-get install linux-libc-dev   (or run ./setup.sh as root)"
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


if "egg_info" not in sys.argv and "dist_info" not in sys.argv:
    _probe_headers()

san = os.environ.get("WIRESPEED_SANITIZE")
setup(
    ext_modules=[
        Extension(
            "wirespeed._native",
            # One folder per layer or domain (native/ring, native/book, ...);
            # includes are written from native/ ("ring/ring.h"). Only
            # native/python/ includes Python.h (tests/test_native_layout.py).
            sources=sorted(str(p) for p in NATIVE.rglob("*.c")),
            depends=sorted(str(p) for p in NATIVE.rglob("*.h")),
            include_dirs=[str(NATIVE)],
            extra_compile_args=_flags(),
            extra_link_args=[f"-fsanitize={san}"] if san else [],
        )
    ],
)
