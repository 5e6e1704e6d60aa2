"""Helpers for the model tests: write a file, run ``drconsole validate`` on it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from console.cli import main


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write dedented text (or bytes) to a file in the test's directory and return its path."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def validate(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``drconsole validate PATH...``; return (exit code, stdout, stderr)."""

    def _validate(*paths: Path) -> tuple[int, str, str]:
        code = main(["validate", *[str(p) for p in paths]])
        out, err = capsys.readouterr()
        return code, out, err

    return _validate


INVENTORY = """
version: 1
name: t
ssh: {user: drill, connect_timeout: 5s}
sites:
  east:
    role: primary
    hosts:
      db-east-1: {address: 127.0.1.1, port: 2222, tags: [postgres]}
  west:
    role: standby
    hosts:
      db-west-1: {address: 127.0.2.1, port: 2222}
services:
  orders-db:
    kind: postgres
    members:
      db-east-1: {port: 5432, role: primary}
      db-west-1: {port: 5432, role: replica}
    thresholds: {lag_warn: 5s, lag_crit: 30s}
"""

PLAYBOOK = """
version: 1
name: pb
kind: failover
service: orders-db
params:
  from_site: {default: east}
steps:
  - id: fence
    on: service:orders-db and site:{{ from_site }}
    run: echo {{ from_site }}
"""
