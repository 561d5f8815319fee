"""User mistakes on the command line: ONE line on stderr naming the bad value, exit code 2.

:class:`Parser` is the ``argparse`` parser of every command: its errors are one line
(not the usage block), and ``--help`` shows each flag's default. The ``type=`` helpers
below check a value where it is parsed, so the message names the flag and the value.
A command raises :class:`UsageError` for what it can only check later (a missing file, a
config the generator refuses); :func:`stream_app.cli.main` prints it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import NoReturn

#: the exit code of a user mistake (as argparse's own)
USAGE_EXIT = 2


class UsageError(Exception):
    """A mistake of the user's, said in one line (no traceback)."""


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: X)`` to each flag's help, unless the help already says it or
    there is no default to show (None, False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False:
            return text
        if default is argparse.SUPPRESS:
            return text
        if default == "":
            return text + " (default: empty)"
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text + " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """``argparse`` with one-line errors and defaults in ``--help``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_EXIT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def fail(prog: str, message: str) -> int:
    """Print one line for a user mistake; returns the exit code."""
    print(f"{prog}: {' '.join(message.split())}", file=sys.stderr)
    return USAGE_EXIT


def rfc3339(text: str) -> datetime:
    """An RFC 3339 time with its UTC offset (``2026-03-01T12:00:00Z``)."""
    from stream_app.timeutil import parse_as_of

    try:
        return parse_as_of(text)
    except ValueError as exc:
        if "no UTC offset" in str(exc):
            raise argparse.ArgumentTypeError(str(exc)) from None
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an RFC 3339 time (write e.g. 2026-03-01T12:00:00Z)"
        ) from None


def _number(kind: type, low: float, inclusive: bool, high: float | None = None) -> Callable:
    def check(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        ok = value >= low if inclusive else value > low
        if high is not None:
            ok = ok and value <= high
        if not ok or value != value:  # NaN
            bound = f">= {low:g}" if inclusive else f"> {low:g}"
            if high is not None:
                bound = f"within [{low:g}, {high:g}]"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {text}")
        return value

    check.__name__ = kind.__name__  # argparse names the type in its messages
    return check


#: ``type=`` checks of numbers
positive_int = _number(int, 0, inclusive=False)
non_negative_int = _number(int, 0, inclusive=True)
positive_float = _number(float, 0, inclusive=False)
share = _number(float, 0, inclusive=True, high=1.0)
port = _number(int, 1, inclusive=True, high=65535)


def input_file(text: str) -> Path:
    """A readable file (a missing one is named, not a traceback)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {exc.strerror}") from None
    return path


def output_file(text: str) -> str:
    """A file that can be written: its directory exists (``-`` is stdout)."""
    if text == "-":
        return text
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    parent = path.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"the directory of {text} does not exist")
    return text


def processes_arg(text: str) -> int | str:
    """``--processes``: ``auto`` or a whole number from 1."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: write auto or a whole number from 1")
    return value
