"""Operators' command-line tools the deploy files are checked with."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, package: str) -> str:
    """The tool's path. Missing, the test skips, except under `make test`
    (ROADSHOW_REQUIRE_TOOLS=1), which installs the tools and must run every check."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} not installed (Debian package {package}; `make ops-tools`)"
        if os.environ.get("ROADSHOW_REQUIRE_TOOLS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
