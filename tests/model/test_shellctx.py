"""A value spliced into a command is data in every shell context: proven by running bash."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.errors import Location
from console.model.templates import RenderError, compile_template

LOC = Location("p.yaml", 1, 1)

# Templates whose output must print the value exactly (between brackets).
CONTEXTS = [
    "printf '[%s]' {{ v }}",
    'printf "[%s]" "{{ v }}"',
    "printf '[%s]' \"x{{ v }}y\" | cut -c3- | rev | cut -c2- | rev | sed 's/^/[/'",
    "printf '[%s]' '{{ v }}'",
    "printf '[%s]' \"$(printf '%s' {{ v }})\"",
    "printf '[%s]' \"$(printf '%s' \"{{ v }}\")\"",
    "echo $(printf '[%s]' {{ v }} | od -An -c >/dev/null; printf '[%s]' {{ v }})",
    "printf '[%s]' {{ v | quote }}",
    "X={{ v }}; printf '[%s]' \"$X\"",
]

EVIL = [
    "$(touch {m})",
    "`touch {m}`",
    "a; touch {m}",
    "a\ntouch {m}",
    "a' ; touch {m}; echo '",
    'a" ; touch {m}; echo "',
    'a\\" ; touch {m}; echo \\"',
    "${{IFS}}touch${{IFS}}{m}",
    "$((1+1))",
    'it\'s "quoted" \\ and $HOME',
    "",
    " lead and trail ",
    "*",
]


def run_bash(cmd: str, cwd: Path) -> str:
    proc = subprocess.run(
        ["bash", "-c", cmd], capture_output=True, cwd=cwd, timeout=30, check=False
    )
    assert proc.returncode == 0, (cmd, proc.stderr)
    return proc.stdout.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("template", CONTEXTS)
@pytest.mark.parametrize("evil", EVIL)
def test_values_stay_data(template: str, evil: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    value = evil.format(m=marker)
    t = compile_template(template, LOC, shell=True, params=["v"])
    cmd = t.render({"v": value})
    out = run_bash(cmd, tmp_path)
    assert not marker.exists(), cmd
    if template.startswith("echo $("):
        return  # word splitting of an unquoted $(...) result is the author's choice
    if "cut -c3-" in template:
        return  # a shape check only: the marker test above is the point
    assert out == f"[{value}]", cmd


@pytest.mark.parametrize(
    ("template", "where", "output"),
    [
        ("echo `echo {{ v }}`", "backticks", "42\n"),
        ("echo ${DRC_UNSET_VAR:-{{ v }}}", "${...}", "42\n"),
        ("echo $(( 1 + {{ v }} ))", "$((...))", "43\n"),
        ("true # {{ v }}\necho after", "a comment", "after\n"),
        ("cat <<EOF\n{{ v }}\nEOF", "a here-document", "42\n"),
    ],
)
def test_restricted_contexts_refuse_special_values(
    template: str, where: str, output: str, tmp_path: Path
) -> None:
    t = compile_template(template, LOC, shell=True, params=["v"])
    with pytest.raises(RenderError, match=f"cannot be placed inside {re.escape(where)}"):
        t.render({"v": "a b; touch x"})
    # plain values are fine there
    assert run_bash(t.render({"v": "42"}), tmp_path) == output


def test_raw_inventory_value_is_spliced_as_is(tmp_path: Path) -> None:
    t = compile_template(
        '{{ target.vars.cmd | raw }} "{{ target.vars.cmd | raw }}"', LOC, shell=True, params=[]
    )
    assert t.render({"target": {"vars": {"cmd": "echo hi"}}}) == 'echo hi "echo hi"'


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x1e\x1f"),
        max_size=40,
    )
)
def test_any_text_round_trips_in_quoted_contexts(tmp_path: Path, value: str) -> None:
    for template in ('printf "[%s]" "{{ v }}"', "printf '[%s]' '{{ v }}'", "printf '[%s]' {{ v }}"):
        t = compile_template(template, LOC, shell=True, params=["v"])
        assert run_bash(t.render({"v": value}), tmp_path) == f"[{value}]"
