"""``drconsole status`` against the real lab: healthy, a dark site, and back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.lab import RunningLab, lab, requires_lab  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [requires_lab, pytest.mark.lab]


def status(
    inv: Path, *extra: str, timeout: float = 120, columns: int = 160
) -> tuple[int, str, float]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "console", "status", "-i", str(inv), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": str(columns)},
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, time.monotonic() - start


def test_healthy_lab_all_three_services_with_east_primary(lab: RunningLab) -> None:  # noqa: F811
    code, out, _ = status(lab.inventory, "--json")
    doc = json.loads(out)
    assert code == 0, doc["verdict"]
    assert doc["healthy"] is True
    assert {s["service"]: s["primary_site"] for s in doc["services"]} == {
        "orders-db": "east",
        "catalog-db": "east",
        "sessions": "east",
    }
    for m in doc["members"]:
        assert m["health"] == "ok", m
        if m["role"] == "replica":
            assert m["link"] == "up"
            assert m["lag_seconds"] is not None or m["lag_bytes"] is not None
    code, text, _ = status(lab.inventory)
    assert code == 0
    assert "east (primary)" in text and "west (standby)" in text
    assert "OK: all 6 members healthy" in text


def test_dark_site_goes_down_within_the_timeout_and_comes_back(lab: RunningLab) -> None:  # noqa: F811
    lab.lab.chaos_down("west")
    try:
        code, out, took = status(lab.inventory, "--json", "--timeout", "3")
        doc = json.loads(out)
        assert code == 1
        # 3 s probe deadline (+ its grace), never the SSH stack's own long timeouts
        assert took < 30, took
        west = [m for m in doc["members"] if m["site"] == "west"]
        east = [m for m in doc["members"] if m["site"] == "east"]
        assert len(west) == 3 and all(m["role"] == "down" for m in west), west
        assert all(m["health"] == "down" for m in west)
        assert all(m["role"] == "primary" and m["health"] == "ok" for m in east), east
        assert all(m["age_seconds"] < took + 1 for m in east)
        assert "degraded" in doc["verdict"]
    finally:
        lab.lab.chaos_up("west")
    deadline = time.monotonic() + 120
    while True:
        code, out, _ = status(lab.inventory, "--json", "--timeout", "5")
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert code == 0, json.loads(out)["verdict"]


def test_watch_json_prints_a_document_per_sweep(lab: RunningLab) -> None:  # noqa: F811
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console",
            "status",
            "-i",
            str(lab.inventory),
            "--json",
            "--watch",
            "0.5",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        docs = [json.loads(proc.stdout.readline()) for _ in range(3)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    stamps = [d["taken_at"] for d in docs]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "inv.yaml"
    bad.write_text("version: 1\nname: x\nsites: {east: {role: nope, hosts: {}}}\n")
    code, _, _ = status(bad)
    assert code == 2
    proc = subprocess.run(
        [sys.executable, "-m", "console", "status", "-i", str(bad), "--watch", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _shape(value: object) -> object:
    """A JSON document's keys, nested (values dropped; ``details`` are the probe's own)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k != "details"}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return None


def test_status_text_at_80_100_160_columns_and_json_unchanged(lab: RunningLab) -> None:  # noqa: F811
    """COLUMNS set as a jump box's terminal would: one line per member with every word whole
    at each width; --json has the same shape at every width (and the members it names)."""
    for columns in (80, 100, 160):
        code, text, _ = status(lab.inventory, columns=columns)
        assert code == 0, text
        lines = text.splitlines()
        assert all(len(line.rstrip()) <= columns for line in lines), (columns, text)
        header = next(line for line in lines if line.startswith("member")).split()
        assert header[:4] == ["member", "service", "role", "health"]
        assert ("kind" in header) == (columns >= 100)
        assert ("position" in header) == (columns >= 160)
        for site in ("east", "west"):
            host = f"lab-{site}"
            role = "primary" if site == "east" else "replica"
            for service in ("orders-db", "catalog-db", "sessions"):
                rows = [ln for ln in lines if ln.startswith(host) and f" {service} " in ln]
                assert len(rows) == 1, (columns, service, text)
                assert rows[0].split()[:4] == [host, service, role, "OK"], rows[0]
    docs = [json.loads(status(lab.inventory, "--json", columns=c)[1]) for c in (80, 160)]
    assert _shape(docs[0]) == _shape(docs[1])
    assert [(m["service"], m["host"]) for m in docs[0]["members"]] == [
        (m["service"], m["host"]) for m in docs[1]["members"]
    ]
    assert set(docs[0]) == {
        "inventory",
        "taken_at",
        "healthy",
        "verdict",
        "members",
        "services",
        "windows",  # the lab's orders-db has backup: (issue 13): its recoverable window
    }


def test_watch_shows_a_dark_site_stale_before_its_probes_time_out(lab: RunningLab) -> None:  # noqa: F811
    """``status --watch 1`` while west goes dark: the last frame (printed when it is stopped
    with Ctrl-C) shows west's members STALE and the site not answering, long before their
    10 s probes could have timed out; ``--watch --json`` keeps the one-shot JSON shape."""
    env = {**os.environ, "COLUMNS": "100"}
    argv = [sys.executable, "-m", "console", "status", "-i", str(lab.inventory)]
    proc = subprocess.Popen(
        [*argv, "--watch", "1"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(4)  # the first sweep, then polls
        lab.lab.chaos_down("west")
        time.sleep(4)  # > 1.5 poll intervals + a redraw, < the 10 s probe timeout
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        lab.lab.chaos_up("west")
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    last = out.rsplit("east (primary)", 1)[-1]
    west = [ln for ln in last.splitlines() if ln.startswith("lab-west")]
    assert len(west) == 3, last
    assert all(ln.split()[3] in ("STALE", "DOWN") for ln in west), last
    assert any(ln.split()[3] == "STALE" for ln in west), last  # not yet timed out
    assert "NOT ANSWERING FOR" in last
    deadline = time.monotonic() + 120
    while status(lab.inventory, "--json", "--timeout", "5")[0] != 0:
        assert time.monotonic() < deadline, "west did not come back"
        time.sleep(1)
    watch = subprocess.Popen(
        [*argv, "--watch", "1", "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert watch.stdout is not None
        docs = [json.loads(watch.stdout.readline()) for _ in range(3)]
    finally:
        watch.send_signal(signal.SIGINT)
        watch.communicate(timeout=60)
    once = json.loads(status(lab.inventory, "--json")[1])
    assert all(_shape(d) == _shape(once) for d in docs)
    assert docs[2]["taken_at"] > docs[0]["taken_at"]
