"""Every command line, run for real as a subprocess: `--version`, `--help` and one
bad input each, which must end in one line on stderr naming the problem, its exit
code, and no traceback. Every subcommand, at any depth, has help text and `--version`."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from services.registration.bootstrap import MIGRATIONS as REGISTRATION_MIGRATIONS
from shared.personal_data import encode_key, new_key
from shared.terminal import version
from shared.testing.plugin import DatabaseFactory

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__main__.py").exists())
PROGRAMS = {
    **{name: ["-m", f"services.{name}"] for name in SERVICES},
    "deploy.local": ["-m", "deploy.local"],
    "demo": ["-m", "demo"],
}
# Fifteen or so interpreters starting at once (~20 s of CPU): room on a loaded machine.
pytestmark = pytest.mark.timeout(300)
UNREACHABLE_DB = "postgresql://roadshow@127.0.0.1:1/nothing"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest_asyncio.fixture(scope="module")
async def ran(databases: DatabaseFactory, taken_port: int) -> dict[str, Ran]:
    """Every case at once (they are independent processes): the suite stays lean."""
    registration_db = await databases.fresh(REGISTRATION_MIGRATIONS)
    key = encode_key(new_key())
    bad_inputs: dict[str, tuple[list[str], dict[str, str]]] = {
        # Any service: a database nobody serves.
        **{
            name: (
                ["migrate"],
                {
                    f"{name.upper()}_DATABASE_URL": UNREACHABLE_DB,
                    f"{name.upper()}_PERSONAL_DATA_KEY": key,
                },
            )
            for name in SERVICES
        },
        # An unknown partner: the use case says so, in one line.
        "registration": (
            ["partner", "issue-key", str(uuid.uuid4())],
            {"REGISTRATION_DATABASE_URL": registration_db, "REGISTRATION_PERSONAL_DATA_KEY": key},
        ),
        # A setting that does not parse.
        "notification": (["migrate"], {"NOTIFICATION_HTTP_PORT": "eighty"}),
        # The console has no database: a setting of its own that does not parse.
        "console": (["serve"], {"CONSOLE_HTTP_PORT": "eighty"}),
        # `make up` with the broker's port taken.
        "deploy.local": ([], {"ROADSHOW_KAFKA_PORT": str(taken_port)}),
        "demo": (["--enterprises", "0"], {}),
    }
    cases: dict[str, tuple[list[str], dict[str, str]]] = {}
    for name, argv in PROGRAMS.items():
        cases[f"{name} --version"] = ([*argv, "--version"], {})
        cases[f"{name} --help"] = ([*argv, "--help"], {})
        bad_argv, env = bad_inputs[name]
        cases[f"{name} bad"] = ([*argv, *bad_argv], env)
    results = await asyncio.gather(*(_run(argv, env) for argv, env in cases.values()))
    return dict(zip(cases, results, strict=True))


async def _run(argv: list[str], env: dict[str, str]) -> Ran:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        env={**os.environ, "ROADSHOW_HOME": os.devnull + ".roadshow-cli-test", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


@pytest.mark.parametrize("name", PROGRAMS)
def test_version(ran: dict[str, Ran], name: str) -> None:
    r = ran[f"{name} --version"]
    assert r.code == 0, r.err
    assert r.out.strip().endswith(version()) and version() != "unknown"


@pytest.mark.parametrize("name", PROGRAMS)
def test_help(ran: dict[str, Ran], name: str) -> None:
    r = ran[f"{name} --help"]
    assert r.code == 0, r.err
    assert r.out.startswith("usage: python -m ")
    assert "--version" in r.out
    description = r.out.split("\n\n")[1]  # the text after the usage lines
    assert len(description.split()) >= 5, r.out


BAD = {
    **{name: (69, "migrate: error: cannot connect") for name in SERVICES},
    "registration": (1, "partner issue-key: error: no such partner (partner_id)"),
    "notification": (2, "NOTIFICATION_HTTP_PORT"),
    "console": (2, "CONSOLE_HTTP_PORT"),
    "deploy.local": (69, "is taken by another process"),
    "demo": (2, "error: --enterprises and --participants must be at least 1"),
}


@pytest.mark.parametrize("name", PROGRAMS)
def test_bad_input_is_one_clear_line_and_an_exit_code(ran: dict[str, Ran], name: str) -> None:
    r = ran[f"{name} bad"]
    code, message = BAD[name]
    assert (r.code, "Traceback" in r.err) == (code, False), r.err
    assert message in r.err
    said = [line for line in r.err.splitlines() if "error" in line]
    assert len(said) <= 1, r.err  # said once
    assert r.out.strip() == "", r.out  # nothing half-done on stdout


def _subcommands(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, str]]:
    yield path, parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subcommands(sub, f"{path} {name}")


def test_every_subcommand_has_help_and_a_version() -> None:
    seen = []
    for service in SERVICES:
        cli = importlib.import_module(f"services.{service}.__main__").cli
        for path, text in _subcommands(cli.parser(), cli.name):
            seen.append(path)
            assert "--version" in text, path
            assert len(text.split("\n\n")[1].split()) >= 3, f"{path} has no help text:\n{text}"
    assert "registration partner issue-key" in seen and "notification deliver" in seen
    assert "console serve" in seen
