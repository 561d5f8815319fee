"""The compiled build of the typed core (mypyc), and the rule that keeps it honest.

``./dev bootstrap`` compiles the modules listed in :data:`COMPILED` with mypyc into
``.compiled/`` at the top of the checkout (never next to the ``.py`` files), with a manifest
that records a hash of the sources it was built from. Importing :mod:`stream_app` installs
:class:`_Finder`, which serves those extension modules in place of the ``.py`` files only when

- ``CS_PURE_PYTHON`` is not set to ``1`` (the switch to the pure-Python path), and
- the hash of the sources *now* equals the hash of the build: the compiled modules, every
  other ``.py`` under the compiled folders (a new file changes the hash) and the
  ``stream_app`` modules they import, and the interpreter.

Otherwise the plain ``.py`` modules run, with one warning line when a build exists but is
stale (a contributor edited a compiled module and ran pytest without re-bootstrapping). The
decision is taken once, at the first import of a compiled module; :func:`active` reports it.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType

#: the modules compiled, as globs relative to the checkout (``__init__.py`` files stay pure:
#: packages keep their ordinary ``__path__``)
COMPILED = (
    "stream_app/kpi/**/*.py",
    "stream_app/timeutil.py",
    "stream_app/replay.py",  # its read loop (replay only; the worker shell stays pure)
    "stream_app/replay_share.py",  # a share's read loop (replay --processes N)
    "stream_app/contract/fast.py",
    "stream_app/contract/kinds.py",
    "stream_app/murmur2.py",  # the key -> partition hash (worker routing, replay split)
)

#: files under those globs that stay pure (fnmatch patterns of their paths): pydantic
#: models (mypyc cannot compile classes that pydantic builds at import; settings are read
#: once, off the hot path). A module mypyc rejects can be listed here meanwhile.
PURE = ("*/settings.py",)

#: the switch to the pure-Python path
PURE_ENV = "CS_PURE_PYTHON"

#: the build directory (at the top of the checkout) and its manifest
BUILD_DIR = ".compiled"
MANIFEST = "manifest.json"

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("stream_app.compiled")


def compiled_sources(root: Path = ROOT) -> list[str]:
    """The files compiled, relative to ``root``, sorted."""
    found: set[str] = set()
    for pattern in COMPILED:
        for path in root.glob(pattern):
            rel = path.relative_to(root).as_posix()
            pure = path.name == "__init__.py" or any(fnmatch(rel, p) for p in PURE)
            if not pure and "__pycache__" not in path.parts:
                found.add(rel)
    return sorted(found)


def watched_files(root: Path, dependencies: Iterable[str]) -> list[str]:
    """Every file whose change makes a build stale: every ``.py`` under the compiled folders
    (``__init__.py`` included), the compiled files and their ``stream_app`` dependencies."""
    found = set(dependencies)
    for pattern in COMPILED:
        for path in root.glob(pattern):
            if "__pycache__" not in path.parts:
                found.add(path.relative_to(root).as_posix())
        base = root / pattern.split("*")[0]
        if base.is_dir():
            found.update(p.relative_to(root).as_posix() for p in base.rglob("__init__.py"))
    return sorted(found)


def interpreter_tag() -> str:
    """The interpreter a build is for (an extension module loads only into its own ABI)."""
    return f"{sys.implementation.cache_tag} {importlib.machinery.EXTENSION_SUFFIXES[0]}"


def sources_hash(root: Path, files: Sequence[str]) -> str:
    """sha256 over the interpreter tag and each file's path and bytes (a missing file
    counts as empty, under its own marker)."""
    h = hashlib.sha256(interpreter_tag().encode())
    for name in files:
        h.update(b"\0" + name.encode() + b"\0")
        try:
            h.update((root / name).read_bytes())
        except FileNotFoundError:
            h.update(b"\0missing\0")
    return h.hexdigest()


def module_name(source: str) -> str:
    """``stream_app/kpi/core.py`` -> ``stream_app.kpi.core``."""
    return source.removesuffix(".py").replace("/", ".")


class _Finder(importlib.abc.MetaPathFinder):
    """Serves the compiled modules of a build whose sources match; otherwise nothing."""

    def __init__(self, root: Path, manifest: dict[str, object]) -> None:
        self.root = root
        self.manifest = manifest
        libs = manifest.get("modules")
        self.modules: dict[str, str] = dict(libs) if isinstance(libs, dict) else {}
        self.decided: bool | None = None  # None: not yet; True: compiled; False: pure
        self.reason = ""

    def decide(self) -> bool:
        if self.decided is None:
            deps = self.manifest.get("watched")
            files = watched_files(self.root, deps if isinstance(deps, list) else [])
            libs = (self.root / BUILD_DIR / lib for lib in self.modules.values())
            if not all(lib.is_file() for lib in libs):
                self.decided = False
                self.reason = "pure Python (the compiled build is incomplete)"
                log.warning(
                    "stream_app: the compiled build in %s lacks some of its modules: running "
                    "the pure-Python path; ./dev bootstrap rebuilds them",
                    self.root / BUILD_DIR,
                )
            elif sources_hash(self.root, files) == self.manifest.get("hash"):
                self.decided, self.reason = True, "compiled (mypyc)"
            else:
                self.decided = False
                self.reason = "pure Python (the compiled build is stale)"
                log.warning(
                    "stream_app: the compiled modules in %s are stale (sources changed since "
                    "the build): running the pure-Python path; ./dev bootstrap rebuilds them",
                    self.root / BUILD_DIR,
                )
        return self.decided

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        lib = self.modules.get(fullname)
        if lib is None or not self.decide():
            return None
        file = str(self.root / BUILD_DIR / lib)
        loader = importlib.machinery.ExtensionFileLoader(fullname, file)
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


_finder: _Finder | None = None
_why_pure = "pure Python (no compiled build)"


def install(root: Path = ROOT) -> None:
    """Put the finder first on ``sys.meta_path`` when a build for this interpreter exists
    and the pure path is not asked for (called once, by ``stream_app/__init__.py``)."""
    global _finder, _why_pure
    if _finder is not None:
        return
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        _why_pure = f"pure Python ({PURE_ENV}={os.environ[PURE_ENV]})"
        return
    try:
        manifest = json.loads((root / BUILD_DIR / MANIFEST).read_text())
    except (OSError, ValueError):
        return
    if not isinstance(manifest, dict) or manifest.get("interpreter") != interpreter_tag():
        _why_pure = "pure Python (the compiled build is for another interpreter)"
        return
    _finder = _Finder(root, manifest)
    sys.meta_path.insert(0, _finder)


def active() -> str:
    """Which path runs: ``compiled (mypyc)`` or ``pure Python (why)``."""
    if _finder is None:
        return _why_pure
    _finder.decide()
    return _finder.reason


def is_compiled() -> bool:
    """True when the compiled modules serve (or will serve) the imports."""
    return _finder is not None and _finder.decide()
