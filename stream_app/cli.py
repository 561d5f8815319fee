"""``stream-app``, the entry point: the parser of the commands in :mod:`stream_app.commands`.

A user mistake is one line on stderr and exit code 2, never a traceback
(:mod:`stream_app.commands.errors`): a bad flag value, a missing file, an invalid
setting (a flag or a ``CS_`` variable), an unreachable broker.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from stream_app.commands.backfill import add_backfill
from stream_app.commands.collect import add_collect
from stream_app.commands.dead_letters import add_dead_letters
from stream_app.commands.errors import Parser, UsageError, fail
from stream_app.commands.generate import add_generate
from stream_app.commands.replay import add_replay
from stream_app.commands.run import add_run
from stream_app.commands.schemas import add_schemas
from stream_app.commands.worker import add_worker

DESCRIPTION = (
    "Live customer-success KPIs: worker, replay, backfill, generate, schemas, dead letters, run,"
    " collect."
)
#: the subcommands, in ``--help`` order
COMMANDS = (
    add_worker,
    add_replay,
    add_backfill,
    add_schemas,
    add_generate,
    add_run,
    add_dead_letters,
    add_collect,
)


def build_parser() -> Parser:
    parser = Parser(prog="stream-app", description=DESCRIPTION)
    sub: Any = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add in COMMANDS:
        add(sub)
    return parser


def _settings_error(exc: Exception) -> str:
    """One line of a pydantic ValidationError (a flag or a ``CS_`` variable; the variable
    alone for a setting without a flag)."""
    from stream_app.commands.flags import WORKER_FLAGS

    errors = exc.errors()  # type: ignore[attr-defined]
    parts = []
    for err in errors[:3]:
        name = ".".join(str(p) for p in err.get("loc", ())) or "value"
        flag = f"--{name.replace('_', '-')} or " if name in WORKER_FLAGS else ""
        parts.append(
            f"setting {name} ({flag}CS_{name.upper()}) = {err.get('input')!r}: {err.get('msg')}"
        )
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def main(argv: Sequence[str] | None = None) -> int:
    from aiokafka.errors import KafkaConnectionError
    from pydantic import ValidationError

    from stream_app.produce import DeliveryFailed

    args = build_parser().parse_args(argv)
    prog = f"stream-app {args.command}"
    try:
        result: int = args.func(args)
    except UsageError as exc:
        return fail(prog, str(exc))
    except ValidationError as exc:
        return fail(prog, _settings_error(exc))
    except KafkaConnectionError as exc:
        broker = getattr(args, "broker", None)
        return fail(prog, f"cannot reach the Kafka broker {broker or ''}: {exc}")
    except DeliveryFailed as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1  # the broker's refusal, not a mistake on the command line
    except OSError as exc:
        if exc.filename is None:
            raise
        return fail(prog, f"{exc.filename}: {exc.strerror}")
    return result


if __name__ == "__main__":
    sys.exit(main())
