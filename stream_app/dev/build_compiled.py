"""Build the compiled core with mypyc into ``.compiled/`` (``./dev bootstrap`` runs this).

    python -m stream_app.dev.build_compiled [--force]

Rebuilds only when the hash of the sources (see :mod:`stream_app.compiled`) differs from the
manifest's, or mypy's version changed. Without a C compiler or the Python headers it prints
one line and exits 0: the pure-Python path runs. The build goes to a temporary directory and
replaces ``.compiled/`` only once it has succeeded, so an interrupted build leaves either the
old build (stale, hence unused) or the new one.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from stream_app.compiled import (
    BUILD_DIR,
    MANIFEST,
    PURE_ENV,
    ROOT,
    compiled_sources,
    interpreter_tag,
    module_name,
    sources_hash,
    watched_files,
)

GROUP = "stream_app_compiled"


def dependencies(root: Path, sources: list[str]) -> list[str]:
    """The ``stream_app`` modules the sources import, transitively (files relative to root)."""
    seen: set[str] = set()
    todo = list(sources)
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        tree = ast.parse((root / rel).read_text(), rel)
        names: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package
                    package = rel.removesuffix(".py").split("/")[: -node.level]
                    base = ".".join([*package, *([base] if base else [])])
                names.append(base)
                names.extend(f"{base}.{a.name}" for a in node.names)
        for name in names:
            if not name.startswith("stream_app"):
                continue
            parts = name.split(".")
            # the package __init__ files on the way, and the module itself
            for i in range(1, len(parts) + 1):
                where = root.joinpath(*parts[:i])
                for candidate in (where / "__init__.py", where.with_suffix(".py")):
                    if candidate.is_file():
                        todo.append(candidate.relative_to(root).as_posix())
    return sorted(seen)


def compiler_missing() -> str | None:
    """Why a C extension cannot be built here, or None."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc})"
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not include.is_file():
        return f"no Python headers ({include})"
    return None


def build_key(root: Path) -> tuple[str, list[str], list[str]]:
    sources = compiled_sources(root)
    watched = watched_files(root, dependencies(root, sources))
    return sources_hash(root, watched), sources, watched


def up_to_date(root: Path) -> bool:
    try:
        manifest = json.loads((root / BUILD_DIR / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return (
        manifest.get("hash") == build_key(root)[0]
        and manifest.get("mypy") == version("mypy")
        and manifest.get("interpreter") == interpreter_tag()
    )


def build(root: Path) -> float:
    """Compile; returns the seconds it took."""
    from mypyc.build import mypycify  # the dev extra
    from setuptools import Distribution

    start = time.monotonic()
    digest, sources, watched = build_key(root)
    work = Path(tempfile.mkdtemp(prefix=".compiled-", dir=root))
    try:
        cwd = os.getcwd()
        os.chdir(root)  # mypyc names modules by their paths relative to the cwd
        try:
            extensions = mypycify(
                sources, opt_level="3", target_dir=str(work / "c"), group_name=GROUP
            )
            dist = Distribution({"name": GROUP, "ext_modules": extensions})
            cmd = dist.get_command_obj("build_ext")
            cmd.build_lib = str(work / "lib")
            cmd.build_temp = str(work / "obj")
            cmd.parallel = os.cpu_count() or 1
            dist.run_command("build_ext")
        finally:
            os.chdir(cwd)
        lib = work / "lib"
        modules = {}
        for path in lib.rglob("*.so"):
            rel = path.relative_to(lib).as_posix()
            name = rel.split(".")[0].replace("/", ".")
            modules[name] = rel
        missing = [m for m in map(module_name, sources) if m not in modules]
        if missing:
            raise RuntimeError(f"mypyc built no extension for {missing}")
        manifest = {
            "hash": digest,
            "interpreter": interpreter_tag(),
            "mypy": version("mypy"),
            "modules": modules,
            "watched": watched,
            "built_s": round(time.monotonic() - start, 1),
        }
        (lib / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        target = root / BUILD_DIR
        old = work / "old"
        if target.exists():
            target.rename(old)
        lib.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:  # the build itself, its output going to the log
        seconds = build(ROOT)
        print(f"built in {seconds:.1f} s")
        return 0
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return 0  # the pure path is asked for: nothing to build
    why = compiler_missing()
    if why is not None:
        print(f"compiled core not built ({why}): the pure-Python path runs", file=sys.stderr)
        return 0
    if not args.force and up_to_date(ROOT):
        return 0
    log = ROOT / f"{BUILD_DIR}.log"
    print(
        f"compiling the typed core with mypyc into {BUILD_DIR}/ (log: {log.name}) …",
        file=sys.stderr,
    )
    start = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "stream_app.dev.build_compiled", "--inner"],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        sys.stderr.write(log.read_text()[-6000:])
        print(f"the mypyc build failed (log: {log}); CS_PURE_PYTHON=1 skips it", file=sys.stderr)
        return 1
    print(f"compiled the typed core in {time.monotonic() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
