"""Pure units of the model: durations, selectors, templates, loading the shipped files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from console.errors import InputError, Location
from console.model.checks import bind_params, parse_var_args
from console.model.durations import DurationError, format_duration, parse_duration
from console.model.inventory import load_inventory
from console.model.playbook import load_playbook
from console.model.selectors import parse_selector
from console.model.templates import RenderError, compile_template

ROOT = Path(__file__).resolve().parents[2]
LOC = Location("t.yaml", 3, 5)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("5s", 5.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1m30s", 90.0),
        ("1.5s", 1.5),
        ("7", 7.0),
        (7, 7.0),
        (0.25, 0.25),
        ("0s", 0.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["-5s", -1, "5 s", "5sec", "s", "", "1h-2m", True, None, [], "1e3"]
)
def test_bad_durations(text: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_format_duration() -> None:
    assert [format_duration(x) for x in (None, 0, 0.25, 12.34, 245, 7380)] == [
        "-",
        "0s",
        "250ms",
        "12.3s",
        "4m05s",
        "2h03m",
    ]


def test_selector_terms_and_render() -> None:
    sel = parse_selector(
        "service:orders-db and role:primary and site:{{ from_site }}", LOC, ["from_site"]
    )
    assert [t.key for t in sel.terms] == ["service", "role", "site"]
    assert sel.render({"from_site": "east"}) == (
        ("service", "orders-db"),
        ("role", "primary"),
        ("site", "east"),
    )


def test_selector_bare_host_and_template_with_and_inside() -> None:
    sel = parse_selector("db-east-1 and site:{{ 'a' if x and y else 'b' }}", LOC, ["x", "y"])
    assert [(t.key, t.value.source) for t in sel.terms] == [
        ("host", "db-east-1"),
        ("site", "{{ 'a' if x and y else 'b' }}"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty host selector"),
        ("site:east and", "empty term"),
        ("zone:east", "unknown selector key 'zone'"),
        ("role:leader", "role in a selector must be one of primary, replica"),
        ("site:", "has no value"),
        ("site:east west", "has a space in its value"),
        ("site:{{ nope }}", "undefined name 'nope'"),
    ],
)
def test_bad_selectors(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_selector(text, LOC, [])
    assert message in str(info.value)
    assert str(info.value).startswith("t.yaml:3:5: ")


def test_shell_template_quotes_every_substitution() -> None:
    t = compile_template("echo {{ v }} {{ w | quote }}", LOC, shell=True, params=["v", "w"])
    assert t.render({"v": "$(touch /tmp/x)", "w": "a b"}) == "echo '$(touch /tmp/x)' 'a b'"


@pytest.mark.parametrize(
    "evil",
    ["$(touch /tmp/x)", "`touch /tmp/x`", "a; touch /tmp/x", "a\ntouch /tmp/x", "'; touch x; '"],
)
def test_shell_template_value_is_one_word(evil: str, tmp_path: Path) -> None:
    t = compile_template("printf '%s|' {{ v }}", LOC, shell=True, params=["v"])
    cmd = t.render({"v": evil})
    out = subprocess.run(
        ["bash", "-c", cmd], capture_output=True, text=True, cwd=tmp_path, check=True, timeout=30
    ).stdout
    assert out == evil + "|"
    assert list(tmp_path.iterdir()) == []


def test_raw_allowed_on_inventory_values() -> None:
    t = compile_template("{{ target.vars.start | raw }}", LOC, shell=True, params=[])
    assert t.render({"target": {"vars": {"start": "pg_ctl start -w"}}}) == "pg_ctl start -w"
    t2 = compile_template("{{ service.at[site].vars.cmd | raw }}", LOC, shell=True, params=["site"])
    ctx = {"site": "east", "service": {"at": {"east": {"vars": {"cmd": "a b"}}}}}
    assert t2.render(ctx) == "a b"


@pytest.mark.parametrize(
    "src",
    ["{{ v | raw }}", "{{ (v ~ '') | raw }}", "{{ 'x' | raw }}", "{% set y = v %}{{ y | raw }}"],
)
def test_raw_refused_on_params(src: str) -> None:
    with pytest.raises(InputError, match="may only be applied to inventory values"):
        compile_template(src, LOC, shell=True, params=["v"])


def test_text_template_does_not_quote() -> None:
    t = compile_template("Move to {{ v }}", LOC, shell=False, params=["v"])
    assert t.render({"v": "west site"}) == "Move to west site"


def test_render_undefined_attribute_is_located() -> None:
    t = compile_template("{{ target.vars.nope }}", LOC, shell=True, params=[])
    with pytest.raises(RenderError, match=r"^t.yaml:3:5: .*nope"):
        t.render({"target": {"vars": {}}})


def test_var_parsing_and_binding() -> None:
    pb = load_playbook(ROOT / "playbooks" / "pg-failover.yaml")
    assert parse_var_args(["to_site=east", "from_site=west"]) == {
        "to_site": "east",
        "from_site": "west",
    }
    assert bind_params(pb, {"to_site": "east", "from_site": "west"}) == {
        "from_site": "west",
        "to_site": "east",
    }
    with pytest.raises(InputError, match="expected NAME=VALUE"):
        parse_var_args(["nonsense"])
    with pytest.raises(InputError) as info:
        bind_params(pb, {"to_sit": "x"})
    assert "has no such parameter (did you mean 'to_site'?)" in str(info.value)


def test_shipped_files_load() -> None:
    inv = load_inventory(ROOT / "inventory" / "example.yaml")
    assert set(inv.sites) == {"east", "west", "dr"}
    assert {s.kind for s in inv.services.values()} == {"postgres", "mysql", "redis"}
    assert inv.hosts["db-west-1"].ssh.jump == "bastion-east"
    assert inv.hosts["bastion-east"].ssh.jump is None
    for name in ("pg-failover", "pg-failback", "pg-restore-verify"):
        pb = load_playbook(ROOT / "playbooks" / f"{name}.yaml")
        assert pb.steps and pb.service == "orders-db"
    failover = load_playbook(ROOT / "playbooks" / "pg-failover.yaml")
    assert [s.rto for s in failover.steps if s.rto] == ["start", "end"]
    assert failover.canary is not None and failover.canary.every == 1.0


def test_validate_shipped_files_via_cli() -> None:
    proc = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "drconsole"),
            "validate",
            "inventory/example.yaml",
            # the playbooks of the plain estate (playbooks/three-center/ are for another)
            *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "playbooks").glob("*.yaml")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "no problems" in proc.stdout


def test_yaml_keeps_text_as_written(tmp_path: Path) -> None:
    p = tmp_path / "i.yaml"
    p.write_text(
        "version: 1\nname: 0755\nsites:\n  on:\n    role: dr\n    hosts:\n"
        "      h: {address: 127.0.0.1, vars: {mode: 0755, flag: yes}}\n"
    )
    inv = load_inventory(p)
    assert inv.name == "0755"
    assert "on" in inv.sites
    assert dict(inv.hosts["h"].vars) == {"mode": "0755", "flag": "yes"}
