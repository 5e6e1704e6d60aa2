"""Record the legacy audit log: real runs on a real lab, and what main's code made of them.

This is how ``tests/events/data/legacy/`` was made, once, with the code of ``main`` before the
typed event vocabulary (``console.events``) replaced the dict readers. The refactor must not
change what a log already written means: ``tests/events/test_legacy_log.py`` verifies this log
and compares every report, ``audit show`` and ``audit list`` of it, byte for byte, with the
outputs stored next to it here. Re-running this script with newer code makes a new log (other
run ids and times), so do it only to extend the fixture, never to "fix" a failing comparison.

The runs, on a lab started by hand (``drconsole lab --dir /tmp/h12-lab up --net 22
--inventory /tmp/h12-lab/lab.yaml``), cover every event kind and every way a run or step ends:

* ``stopped``: ``pg-failover`` without ``--yes`` stops at its first confirm step;
* ``failover`` / ``failback``: the shipped PostgreSQL drills with ``--yes`` (canary, samples,
  RTO marks, measurement, condition waits);
* ``gate_failed``: ``pg-failback`` again, with the primary already home: a gate fails;
* ``mixed``: ``legacy-mixed`` (lots of output, ``when`` skip, "not yet" polls, continue,
  timeout, retry, rollback with a failing rollback step);
* ``killed_resumed``: ``legacy-slow`` killed with SIGKILL mid-step, resumed without ``--yes``
  (unknown outcome: stops), then with ``--yes`` (rerun);
* ``sigint``: ``legacy-slow`` stopped with SIGINT mid-step (interrupted, recorded);
* ``person``: ``legacy-person`` driven in-process by a person-like decider, with
  ``--break-lock`` over a killed run's locks, a secret, notes, a pause, a skip requested while
  paused, a skip after a failure, a manual step, and an abort with rollback while a step runs;
* ``killed_then_finished``: the run whose locks ``person`` broke, resumed with ``--yes``;
* ``aborted``: ``legacy-person`` in incident mode, aborted by a person at the first question;
* ``host_refused`` / ``host_accepted``: ``legacy-hosts`` on an inventory whose known_hosts lacks
  a host and names a port nobody listens on, then with ``--accept-new-host-keys``.

Usage (as root, the lab up on net 22)::

    .venv/bin/python -m tests.events.record_legacy_log --inventory /tmp/h12-lab/lab.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PLAYBOOKS = HERE / "playbooks"
DATA = HERE / "data" / "legacy"
DRCONSOLE = [sys.executable, "-m", "console"]
SECRET = "s3cr3t-L3GACY-7734"
"""The secret parameter of the ``person`` runs: it must appear in no output."""
REPORT_FORMATS = ("md", "html", "json", "junit")
HISTORY_FORMATS = ("md", "html")
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
"""The environment of every CLI call, here and in the tests that compare."""


def cli(audit: Path, *args: str, operator: str = "alice") -> subprocess.CompletedProcess[str]:
    """``drconsole --audit AUDIT --operator OP ARGS...``."""
    return subprocess.run(
        [*DRCONSOLE, "--audit", str(audit), "--operator", operator, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
        env=ENV,
    )


def run_id_of(proc: subprocess.CompletedProcess[str]) -> str:
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    if not first.startswith("run "):
        raise RuntimeError(f"no run id in: {proc.stdout}\n{proc.stderr}")
    return first.split()[1]


def wait_for_output(audit: Path, step_id: str, timeout: float, known: set[str]) -> tuple[str, str]:
    """The id of the latest run (one not in ``known``) and the first output line of
    ``step_id`` once recorded."""
    from console.audit.store import AuditStore

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if audit.exists():
            with AuditStore(audit, create=False) as store:
                latest = store.latest_run_id()
                if latest is not None and latest not in known:
                    for event in store.events(latest, kinds=["output"]):
                        if event.step_id == step_id and event.data.get("lines"):
                            return latest, str(event.data["lines"][0])
        time.sleep(0.2)
    raise RuntimeError(f"no output of {step_id} within {timeout}s")


def start_slow(audit: Path, inventory: Path, operator: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *DRCONSOLE,
            "--audit",
            str(audit),
            "--operator",
            operator,
            "run",
            str(PLAYBOOKS / "legacy-slow.yaml"),
            "-i",
            str(inventory),
            "--yes",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=ENV,
    )


def kill_remote(first_line: str) -> None:
    """End the remote sleep a killed console left behind (its pid is in the first line)."""
    pid = int(first_line.rsplit(" ", 1)[1])
    subprocess.run(["kill", str(pid)], check=False)


async def person_run(
    audit_path: Path, inventory: Path, *, operator: str, abort_first: bool, break_lock: bool
) -> str:
    """``legacy-person`` in this process, decided by a person-like decider."""
    from console import events as ev
    from console.audit.store import AuditStore
    from console.engine.decider import Answer, Decider, Question
    from console.engine.prepare import prepare
    from console.engine.runner import Engine, RunConfig
    from console.ssh.pool import SshPool

    class Person(Decider):
        def __init__(self) -> None:
            self.operator = operator

        async def decide(self, question: Question) -> Answer:
            if abort_first:
                return Answer("abort", "bridge call dropped, drill called off")
            if question.kind == "failure":
                return Answer("skip", "known issue INC-4711, checked by hand")
            if question.kind == "manual":
                return Answer("done", "posted in #oncall")
            return Answer("confirm", "go ahead, window approved")

    audit = AuditStore(audit_path)
    prepared = prepare(
        PLAYBOOKS / "legacy-person.yaml", inventory, [f"token={SECRET}"], audit=audit
    )
    async with SshPool() as pool:
        engine = Engine(
            RunConfig(
                inventory=prepared.inventory,
                playbook=prepared.playbook,
                params=prepared.params,
                mode="incident" if abort_first else "drill",
                operator=operator,
                audit=audit,
                transport=pool,
                decider=Person(),
                break_lock=break_lock,
            )
        )
        loop = asyncio.get_running_loop()
        seen: set[str] = set()

        def pause_and_skip() -> None:
            engine.set_paused(True)
            engine.request_skip("skipped-while-paused", "not needed in this drill")
            engine.add_note("paused to skip a step; going on")
            engine.set_paused(False)

        def listener(event: ev.Event) -> None:
            key = f"{event.kind}:{event.step_id}"
            if key in seen:
                return
            if isinstance(event, ev.StepStarted) and event.step_id == "announce":
                seen.add(key)
                loop.call_soon(
                    engine.add_note, f"starting the drill; bridge open (token {SECRET} shared)"
                )
            elif isinstance(event, ev.StepFinished) and event.step_id == "optional-check":
                seen.add(key)
                loop.call_soon(pause_and_skip)
            elif isinstance(event, ev.OutputLines) and event.step_id == "long-tail":
                seen.add(key)
                loop.call_soon(
                    lambda: engine.request_abort("the tail is not needed", rollback=True)
                )

        engine.listeners.append(listener)
        result = await asyncio.wait_for(engine.run(), timeout=300)
    audit.close()
    return result.run_id


def refused_inventory(inventory: Path, work: Path) -> Path:
    """A copy of the lab inventory whose known_hosts lacks lab-west and whose lab-dr port is
    closed."""
    text = inventory.read_text()
    known = Path(re.search(r'known_hosts: "([^"]+)"', text).group(1))  # type: ignore[union-attr]
    west = re.search(r"lab-west:\n\s+address: (\S+)", text).group(1)  # type: ignore[union-attr]
    kept = [line for line in known.read_text().splitlines() if west not in line]
    new_known = work / "legacy_known_hosts"
    new_known.write_text("\n".join(kept) + "\n")
    os.chmod(new_known, 0o644)
    text = text.replace(f'known_hosts: "{known}"', f'known_hosts: "{new_known}"')
    text = re.sub(r"(lab-dr:\n\s+address: \S+\n\s+port: )2222", r"\g<1>2299", text, count=1)
    out = work / "legacy-hosts-inventory.yaml"
    out.write_text(text)
    return out


def record(inventory: Path, work: Path) -> dict[str, str]:
    """Make every run; returns scenario -> run id."""
    audit = work / "audit.db"
    inv = str(inventory)
    site_dir = Path(re.search(r'site_dir: "([^"]+/east)"', inventory.read_text()).group(1))  # type: ignore[union-attr]
    sleep_file = site_dir / "legacy-sleep"
    runs: dict[str, str] = {}

    def headless(name: str, playbook: Path, *extra: str, operator: str, code: int) -> None:
        proc = cli(audit, "run", str(playbook), "-i", inv, *extra, operator=operator)
        runs[name] = run_id_of(proc)
        if proc.returncode != code:
            raise RuntimeError(f"{name}: exit {proc.returncode}, not {code}\n{proc.stdout}")
        print(f"{name}: {runs[name]} exit {proc.returncode}", flush=True)

    def slow(seconds: int) -> None:
        sleep_file.write_text(str(seconds))
        os.chmod(sleep_file, 0o644)

    pg = ROOT / "playbooks"
    headless("stopped", pg / "pg-failover.yaml", operator="dave", code=3)
    headless("failover", pg / "pg-failover.yaml", "--yes", operator="alice", code=0)
    headless("failback", pg / "pg-failback.yaml", "--yes", operator="alice", code=0)
    headless("gate_failed", pg / "pg-failback.yaml", "--yes", operator="erin", code=3)
    headless("mixed", PLAYBOOKS / "legacy-mixed.yaml", "--yes", operator="bob", code=1)

    def interrupt_slow(operator: str, sig: signal.Signals) -> tuple[str, str, int]:
        """Start ``legacy-slow``, send ``sig`` once its long step printed; (run id, first
        output line, exit status)."""
        proc = start_slow(audit, inventory, operator)
        try:
            rid, first = wait_for_output(audit, "long-step", 120, set(runs.values()))
            if sig == signal.SIGINT:
                time.sleep(0.5)
            proc.send_signal(sig)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        return rid, first, proc.returncode

    # killed with SIGKILL, resumed without --yes (stops), then with --yes
    slow(300)
    rid, first, _code = interrupt_slow("frank", signal.SIGKILL)
    kill_remote(first)
    runs["killed_resumed"] = rid
    slow(1)
    pb = str(PLAYBOOKS / "legacy-slow.yaml")
    again = cli(audit, "run", pb, "-i", inv, "--resume", rid, operator="frank")
    assert again.returncode == 3, again.stdout + again.stderr
    done = cli(audit, "run", pb, "-i", inv, "--resume", rid, "--yes", operator="frank")
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"killed_resumed: {rid}", flush=True)

    # stopped with SIGINT while the long step runs
    slow(300)
    rid, _first, code = interrupt_slow("frank", signal.SIGINT)
    assert code == 130, code
    runs["sigint"] = rid
    print(f"sigint: {rid}", flush=True)

    # killed and left holding its locks; a person breaks them; then it is finished
    rid, first, _code = interrupt_slow("henry", signal.SIGKILL)
    kill_remote(first)
    runs["killed_then_finished"] = rid
    runs["person"] = asyncio.run(
        person_run(audit, inventory, operator="carol", abort_first=False, break_lock=True)
    )
    print(f"person: {runs['person']}", flush=True)
    slow(1)
    done = cli(audit, "run", pb, "-i", inv, "--resume", rid, "--yes", operator="henry")
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"killed_then_finished: {rid}", flush=True)
    runs["aborted"] = asyncio.run(
        person_run(audit, inventory, operator="gina", abort_first=True, break_lock=False)
    )
    print(f"aborted: {runs['aborted']}", flush=True)

    hosts_inv = refused_inventory(inventory, work)
    hp = PLAYBOOKS / "legacy-hosts.yaml"
    proc = cli(audit, "run", str(hp), "-i", str(hosts_inv), operator="ivan")
    runs["host_refused"] = run_id_of(proc)
    assert "SECURITY" in proc.stdout, proc.stdout
    print(f"host_refused: {runs['host_refused']} exit {proc.returncode}", flush=True)
    proc = cli(
        audit, "run", str(hp), "-i", str(hosts_inv), "--accept-new-host-keys", operator="ivan"
    )
    runs["host_accepted"] = run_id_of(proc)
    print(f"host_accepted: {runs['host_accepted']} exit {proc.returncode}", flush=True)
    sleep_file.unlink(missing_ok=True)
    return runs


def compact(source: Path, target: Path) -> None:
    """A single-file copy of the database (WAL folded in), as small as it gets."""
    target.unlink(missing_ok=True)
    src = sqlite3.connect(str(source))
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")
        dst.execute("VACUUM")
    finally:
        dst.close()
        src.close()


def expected_outputs(audit: Path, runs: dict[str, str], out: Path) -> None:
    """What this code prints for the log: reports, history, audit show/list/verify."""
    out.mkdir(parents=True, exist_ok=True)

    def save(name: str, proc: subprocess.CompletedProcess[str]) -> None:
        if proc.returncode != 0:
            raise RuntimeError(f"{name}: exit {proc.returncode}: {proc.stderr}")
        (out / name).write_text(proc.stdout)

    for name, rid in sorted(runs.items()):
        for fmt in REPORT_FORMATS:
            save(f"report-{name}.{fmt}", cli(audit, "report", rid, "--format", fmt))
        save(f"show-{name}.txt", cli(audit, "audit", "show", rid))
        save(f"show-{name}.jsonl", cli(audit, "audit", "show", rid, "--json"))
    for fmt in HISTORY_FORMATS:
        save(f"history.{fmt}", cli(audit, "report", "--history", "--format", fmt))
    save("list.txt", cli(audit, "audit", "list"))
    save("list.json", cli(audit, "audit", "list", "--json"))
    save("verify.txt", cli(audit, "audit", "verify"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/h12-legacy"))
    args = parser.parse_args(argv)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    os.chmod(args.work, 0o755)
    runs = record(args.inventory.resolve(), args.work)
    DATA.mkdir(parents=True, exist_ok=True)
    db = DATA / "audit.db"
    compact(args.work / "audit.db", db)
    (DATA / "runs.json").write_text(json.dumps(runs, indent=2, sort_keys=True) + "\n")
    expected_outputs(db, runs, DATA / "expected")
    # reading may leave -wal/-shm files beside the fixture: fold them away
    for extra in (DATA / "audit.db-wal", DATA / "audit.db-shm"):
        extra.unlink(missing_ok=True)
    print(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
