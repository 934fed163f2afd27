"""What every Roadshow command line shares: `--version` and help text on every
command and subcommand, and a failure told in one line on stderr with an exit code,
not a traceback (set ROADSHOW_TRACEBACK=1 to see one).

Exit codes: 0 done, 1 the command failed (an unknown id, a rule broken), 2 bad
usage or settings (argparse, shared.settings.load_settings), 69 a database, broker
or port that cannot be had, 78 a database not migrated, 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import importlib.metadata
import os
import sys
from collections.abc import Callable

import asyncpg
from aiokafka.errors import KafkaConnectionError

from shared.errors import DomainError

EXIT_FAILED = 1
EXIT_UNAVAILABLE = 69
EXIT_CONFIG = 78
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for the same

# Connection exceptions (08), authorisation (28), an unknown database (3D).
_UNREACHABLE_SQLSTATE_CLASSES = ("08", "28", "3D")


class CommandFailed(Exception):
    """A failure the user can act on, with its exit code: said in one line."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def version() -> str:
    try:
        return importlib.metadata.version("roadshow")
    except importlib.metadata.PackageNotFoundError:  # run from a bare checkout
        return "unknown"


def new_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser whose help is the module's docstring, laid out as written."""
    return argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def finish(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """`--version` on the command and every subcommand, at any depth, and each
    subcommand's help text also as its own description (shown by its `--help`)."""
    if not any("--version" in a.option_strings for a in parser._actions):
        parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if sub.description is None:
                    sub.description = helps.get(name)
                finish(sub)
    return parser


def run_command(prog: str, main: Callable[[], int | None]) -> int:
    """`main()`'s exit code; a failure becomes one line on stderr and its code."""
    try:
        return main() or 0
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `... | head`: the reader left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        failure = describe(exc)
        if failure is None or os.environ.get("ROADSHOW_TRACEBACK") == "1":
            raise
        message, code = failure
        print(f"{prog}: error: {message}", file=sys.stderr)
        return code


def describe(exc: BaseException) -> tuple[str, int] | None:  # noqa: PLR0911 - one per kind
    """What to tell the user about a failure, or None for a bug (a traceback is due)."""
    if isinstance(exc, CommandFailed):
        return exc.message, exc.code
    if isinstance(exc, DomainError):
        return exc.detail + (f" ({exc.field})" if exc.field else ""), EXIT_FAILED
    if isinstance(exc, asyncpg.PostgresError) and str(exc.sqlstate or "")[:2] in (
        _UNREACHABLE_SQLSTATE_CLASSES
    ):
        return f"the database refused the connection: {exc}", EXIT_UNAVAILABLE
    if isinstance(exc, asyncpg.UndefinedTableError):
        return f"the database has no schema yet ({exc}): run `migrate` first", EXIT_CONFIG
    if isinstance(exc, KafkaConnectionError):
        return f"cannot reach the broker: {exc}", EXIT_UNAVAILABLE
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"a port is taken: {exc}", EXIT_UNAVAILABLE
    if isinstance(exc, ConnectionError | TimeoutError) or (
        isinstance(exc, OSError) and exc.errno is not None
    ):
        return f"cannot connect: {exc}", EXIT_UNAVAILABLE
    return None
