"""The worker's memory allocator: jemalloc for every object, when the system has it.

CPython keeps its small objects in 1 MiB arenas and gives an arena back only once every
object in it is freed. A backlog fills many arenas with transient objects (fetched
records, decoded events, thawed keys) among which a few long-lived ones are made; once the
backlog is applied the arenas stay resident for those few. Measured on 100,000 web
visitors (BENCHMARKS.md, eleventh pass): ~27 MB of arenas held for ~5 MB of objects.
jemalloc sorts blocks by size into slabs of a few pages and returns each page no block
uses (:func:`stream_app.worker.memory.release_free_memory` asks it to at once): the
worker then holds what its objects use.

``CS_ALLOCATOR``: ``auto`` (the default) runs ``stream-app worker`` on jemalloc when
``libjemalloc.so.2`` is installed (Debian: ``libjemalloc2``), else on CPython's allocator;
``jemalloc`` requires it; ``python`` never uses it. The allocator is chosen before the
interpreter starts, so the worker command starts itself again (``execve``: the same
process id and arguments) with ``LD_PRELOAD``, ``PYTHONMALLOC=malloc`` and
``MALLOC_CONF``; its processes of ``--processes N`` inherit them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Literal, get_args

Allocator = Literal["auto", "jemalloc", "python"]
#: the values of ``CS_ALLOCATOR`` (the settings' field has the same type)
CHOICES: tuple[str, ...] = get_args(Allocator)

#: jemalloc's settings unless ``MALLOC_CONF`` says otherwise: pages freed for a second are
#: returned (they are reused at once in a backlog; an idle worker gives them back), and
#: returned straight away rather than through jemalloc's "muzzy" second stage
MALLOC_CONF = "dirty_decay_ms:1000,muzzy_decay_ms:0"
#: set in the environment of the started-again worker: it is never started a third time
RESTARTED = "CS_ALLOCATOR_STARTED"


class AllocatorMissing(Exception):
    """``CS_ALLOCATOR=jemalloc`` on a system without ``libjemalloc.so.2``."""


def jemalloc_library() -> str | None:
    """The name the dynamic linker finds jemalloc by (None: not installed)."""
    return ctypes.util.find_library("jemalloc")


def on_jemalloc() -> bool:
    """Whether this process allocates its objects with jemalloc (``mallctl`` resolves and
    Python's allocator is ``malloc``)."""
    if os.environ.get("PYTHONMALLOC") != "malloc":
        return False
    try:
        ctypes.CDLL(None).mallctl  # noqa: B018 - only jemalloc defines it
    except AttributeError:
        return False
    return True


def restart_environment(library: str, env: dict[str, str]) -> dict[str, str]:
    """``env`` for a process on jemalloc (``library`` preloaded before what ``env``
    preloads already; the user's ``MALLOC_CONF`` is kept)."""
    preload = env.get("LD_PRELOAD")
    return {
        **env,
        "LD_PRELOAD": f"{library} {preload}" if preload else library,
        "PYTHONMALLOC": "malloc",
        "MALLOC_CONF": env.get("MALLOC_CONF", MALLOC_CONF),
        RESTARTED: "1",
    }


def choice_in(env: Mapping[str, str]) -> Allocator | None:
    """``CS_ALLOCATOR`` of ``env`` (its name in any case, as the settings read it; unset:
    ``auto``); None when it is none of the choices (the settings refuse it in one line)."""
    value = next((v for k, v in env.items() if k.upper() == "CS_ALLOCATOR"), "auto")
    return value if value in CHOICES else None  # type: ignore[return-value]


def choose_at_start(argv: Sequence[str]) -> None:
    """For ``stream-app worker`` (``argv``: the arguments after the program): start again
    on the allocator ``CS_ALLOCATOR`` chooses, before anything else is imported; a
    missing jemalloc the user asked for is one line and exit code 2."""
    if argv[:1] != ["worker"]:
        return
    choice = choice_in(os.environ)
    if choice is None:
        return
    try:
        use_allocator(choice)
    except AllocatorMissing as exc:
        print(f"stream-app worker: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def use_allocator(choice: Allocator) -> None:
    """Start this command again on jemalloc when ``choice`` asks for it and it is not in
    use yet; returns when this process stays as it is. Raises :class:`AllocatorMissing`
    for ``jemalloc`` without the library."""
    if choice == "python" or on_jemalloc() or os.environ.get(RESTARTED):
        return
    library = jemalloc_library()
    if library is None:
        if choice == "jemalloc":
            raise AllocatorMissing(
                "CS_ALLOCATOR=jemalloc, but libjemalloc.so.2 is not installed "
                "(Debian: apt-get install libjemalloc2; or CS_ALLOCATOR=python)"
            )
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, restart_environment(library, dict(os.environ)))
