"""Log lines are JSON for machines and the console renderer's for people: which
one depends on whether the stream is a terminal (a real pseudo-terminal here).
Both are scrubbed of personal data."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterator

import pytest
import structlog

from shared.logging import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    saved, handlers = structlog.get_config(), logging.getLogger().handlers[:]
    yield
    structlog.configure(**saved)
    logging.getLogger().handlers[:] = handlers


def _read_all(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_a_terminal_gets_readable_lines_and_a_log_file_json(tmp_path: object) -> None:
    leader, follower = os.openpty()
    terminal = os.fdopen(follower, "w")
    log_file = os.path.join(str(tmp_path), "svc.jsonl")
    try:
        configure_logging("svc", "info", log_file, stream=terminal)
        get_logger("t").info("partner.created", partner_id="p-1", email="ann@example.test")
        logging.getLogger("aiohttp.access").warning("library line")
        shown = re.sub(r"\x1b\[[0-9;]*m", "", _read_all(leader))  # colours off
    finally:
        terminal.close()
        os.close(leader)
    first = shown.splitlines()[0]
    assert "partner.created" in first and "partner_id=p-1" in first
    assert not first.lstrip().startswith("{")  # not JSON
    assert "library line" in shown
    assert "ann@example.test" not in shown
    with open(log_file, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    assert lines[0]["event"] == "partner.created" and lines[0]["email"] == "[redacted]"
    assert lines[1]["event"] == "library line"


def test_anything_else_gets_json() -> None:
    out = io.StringIO()
    configure_logging("svc", "info", stream=out)
    get_logger("t").info("partner.created", partner_id="p-1")
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["partner_id"] == "p-1"
