"""``stream-app`` and ``python -m stream_app``: the command line (:mod:`stream_app.cli`),
after the worker's allocator is chosen (:mod:`stream_app.allocator`): ``stream-app worker``
may start itself again on jemalloc, and does it before any import it would repeat
(~0.7 s of them)."""

from __future__ import annotations

import sys


def run() -> None:
    """The ``stream-app`` command."""
    from stream_app.allocator import choose_at_start

    choose_at_start(sys.argv[1:])
    from stream_app.cli import main

    sys.exit(main())


if __name__ == "__main__":
    run()
