"""Headless runs over real sshd: what only a real server and a real shell show.

A whole run recorded end to end (both SSH backends), the intent on disk before the remote
command itself looks for it, ``--var`` values that a real bash must not execute, a refused
connection, the plan against the live status. The engine's semantics (retries, timeouts,
continue, rollback, decisions, resume, masking) are tested in milliseconds on a scripted
transport in ``test_semantics.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from tests.engine.conftest import ONE_BACKEND, Estate
from tests.support.sshd import requires_sshd

pytestmark = [requires_sshd, pytest.mark.sshd]


def events(est: Estate, run_id: str | None = None) -> list[dict[str, object]]:
    store = AuditStore(est.audit, create=False)
    try:
        rid = run_id or store.latest_run_id()
        assert rid is not None
        return [
            {"kind": e.kind, "step": e.step_id, "host": e.host, "seq": e.seq, **e.data}
            for e in store.events(rid)
        ]
    finally:
        store.close()


def run_id_of(stdout: str) -> str:
    first = stdout.splitlines()[0]
    assert first.startswith("run "), stdout
    return first.split()[1]


BASIC = """
version: 1
name: basic
kind: custom
service: svc
steps:
  - id: hello
    title: Say hello on both sites
    on: service:svc
    run: echo "hello from $DRLAB_SITE"; echo "to stderr" >&2
    expect: {stdout_contains: hello}
  - id: primary-only
    on: service:svc and role:primary
    run: echo "I am the primary at $DRLAB_SITE"
  - id: count
    on: h-west
    run: printf '%s\\n' 1 2 3
    expect: {stdout_matches: '^3$'}
  - id: reuse
    on: h-east
    run: echo "west counted {{ steps['count'].stdout | replace('\\n', ',') }}"
    expect: {stdout_contains: "west counted 1,2,3"}
"""


def test_run_succeeds_and_records_everything(fresh_audit: Estate) -> None:
    est = fresh_audit
    pb = est.playbook("basic", BASIC)
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_id = run_id_of(proc.stdout)
    assert "h-east | hello from east" in proc.stdout
    assert "h-west | hello from west" in proc.stdout
    assert "h-east | I am the primary at east" in proc.stdout
    assert "I am the primary at west" not in proc.stdout
    evs = events(est, run_id)
    kinds = [e["kind"] for e in evs]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert evs[-1]["outcome"] == "succeeded" and evs[-1]["exit_code"] == 0
    # Every command's intent comes before its result, per host.
    for e in evs:
        if e["kind"] == "command_result":
            intents = [
                i
                for i in evs
                if i["kind"] == "command_intent"
                and i["step"] == e["step"]
                and i["host"] == e["host"]
                and int(i["seq"]) < int(e["seq"])  # type: ignore[arg-type]
            ]
            assert intents, e
    stderr_lines = [e for e in evs if e["kind"] == "output" and e["stream"] == "stderr"]
    assert any("to stderr" in e["lines"] for e in stderr_lines)  # type: ignore[operator]
    verify = est.run("audit", "verify", run_id)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@ONE_BACKEND
def test_intent_is_on_disk_before_the_command_runs(fresh_audit: Estate) -> None:
    """The remote command itself opens the audit database and finds its own intent."""
    est = fresh_audit
    est.audit = est.work / "audit-visible.db"
    check = (
        f"import sqlite3,sys; c=sqlite3.connect('file:{est.audit}?mode=ro', uri=True); "
        "r=c.execute(\"select count(*) from events where kind='command_intent' and "
        "step_id='look'\").fetchone()[0]; print('intents seen', r)"
    )
    pb = est.playbook(
        "look",
        f"""
        version: 1
        name: look
        kind: custom
        steps:
          - id: look
            on: h-east
            run: python3 -c {json.dumps(check)}
            expect: {{stdout_contains: "intents seen 1"}}
        """,
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "intents seen 1" in proc.stdout
    est.audit.unlink()


@ONE_BACKEND
@pytest.mark.parametrize(
    "evil",
    [
        "$(touch {m})",
        "`touch {m}`",
        "x; touch {m}",
        "x\ntouch {m}",
        "x' ; touch {m}; echo '",
        "x && touch {m}",
        "x | tee {m}",
        "$((1+1))",
    ],
)
def test_var_can_never_inject_a_command(fresh_audit: Estate, evil: str) -> None:
    est = fresh_audit
    marker = est.work / "pwned"
    marker.unlink(missing_ok=True)
    value = evil.format(m=marker)
    pb = est.playbook(
        "inject",
        """
        version: 1
        name: inject
        kind: custom
        params:
          name: {default: safe}
        steps:
          - id: echo
            on: h-east
            run: printf '[%s]\\n' {{ name }}; printf '[%s]\\n' "{{ name }}"; echo {{ name | quote }}
        """,
    )
    proc = est.run("run", str(pb), "-i", str(est.inventory), "--var", f"name={value}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not marker.exists(), f"{value!r} ran a command"
    out = [e for e in events(est) if e["kind"] == "output" and e["stream"] == "stdout"]
    lines = [line for e in out for line in e["lines"]]  # type: ignore[attr-defined]
    first_line = value.splitlines()[0]
    assert f"[{first_line}" in lines[0]


def test_unreachable_host_fails_clearly(fresh_audit: Estate, tmp_path: Path) -> None:
    est = fresh_audit
    inv = tmp_path / "inv.yaml"
    from tests.support.sshd import free_port

    closed = free_port("127.0.70.9")
    inv.write_text(
        est.inventory.read_text().replace(
            f"address: {est.west.address}, port: {est.west.port}",
            f"address: 127.0.70.9, port: {closed}",
        )
    )
    pb = est.playbook(
        "w",
        "version: 1\nname: w\nkind: custom\nsteps:\n  - id: w\n    on: h-west\n    run: 'true'\n",
    )
    proc = est.run("run", str(pb), "-i", str(inv), timeout=120)
    assert proc.returncode == 1
    assert "h-west" in proc.stdout and "refused" in proc.stdout.lower()


@ONE_BACKEND
def test_bad_inputs_are_exit_2(fresh_audit: Estate) -> None:
    est = fresh_audit
    pb = est.playbook("basic", BASIC)
    cases = [
        (["run", str(pb), "-i", str(est.inventory), "--var", "nope=1"], "has no such parameter"),
        (["run", str(pb), "-i", "/nonexistent.yaml"], "no such file"),
        (["run", str(pb), "-i", str(est.inventory), "--var", "garbage"], "expected NAME=VALUE"),
        (["run", str(pb), "-i", str(est.inventory), "--resume", "01XXXXXXXX"], "no run"),
    ]
    for args, message in cases:
        proc = est.run(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr.lower() or message in proc.stderr, (message, proc.stderr)
        assert "Traceback" not in proc.stderr


@ONE_BACKEND
def test_plan_renders_without_running(fresh_audit: Estate) -> None:
    est = fresh_audit
    marker = est.work / "planned"
    marker.unlink(missing_ok=True)
    pb = est.playbook(
        "plan",
        f"""
        version: 1
        name: plan
        kind: custom
        service: svc
        preflight:
          - replication: {{service: svc}}
        steps:
          - id: touch
            on: role:primary
            run: touch {marker}
          - id: later
            on: h-west
            run: echo {{{{ steps['touch'].stdout }}}}
        """,
    )
    proc = est.run("plan", str(pb), "-i", str(est.inventory))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"h-east $ touch {marker}" in proc.stdout
    assert "'<output of touch>'" in proc.stdout
    assert not marker.exists()
    js = est.run("plan", str(pb), "-i", str(est.inventory), "--json")
    plan = json.loads(js.stdout)
    assert plan["steps"][0]["targets"] == ["h-east"]
    assert plan["gates"][0]["ok"] is True


SECRET_ON_STDIN = """
version: 1
name: secret-stdin
kind: custom
params:
  token: {secret: true}
steps:
  - id: use
    on: h-east
    run: |
      set -u
      test {{ token }} = s3cr3t-Pa55word && echo "the token arrived"
      args=$(tr '\\0' ' ' < /proc/$$/cmdline)
      case "$args" in *{{ token }}*) echo "LEAK in the shell's arguments";; esac
      case "$args" in *eval*) echo "the shell's arguments hold only the stdin reader";; esac
      cat <<EOF
      read from stdin: $(cat | wc -c) bytes left
      EOF
    expect: {stdout_contains: the token arrived}
  - id: status
    on: h-east
    run: echo {{ token }} >/dev/null; exit 3
    on_failure: continue
"""


def test_a_command_holding_a_secret_travels_on_stdin_never_in_the_shells_arguments(
    fresh_audit: Estate,
) -> None:
    """The remote shell's own argv (/proc/$$/cmdline, what ps shows) never holds a secret:
    the engine sends such a command on stdin; it runs in the login shell as before."""
    est = fresh_audit
    pb = est.playbook("secret-stdin", SECRET_ON_STDIN)
    secret = "s3cr3t-Pa55word"
    proc = est.run("run", str(pb), "-i", str(est.inventory), "--var", f"token={secret}")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the exit 3 is continued past
    assert "h-east | the token arrived" in proc.stdout, proc.stdout
    assert "the shell's arguments hold only the stdin reader" in proc.stdout, proc.stdout
    assert "LEAK" not in proc.stdout and secret not in proc.stdout
    assert "read from stdin: 0 bytes left" in proc.stdout, proc.stdout  # stdin at its end
    finished = [e for e in events(est) if e["kind"] == "command_result"]
    assert [e["exit_status"] for e in finished] == [0, 3], finished
