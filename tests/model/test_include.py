"""Playbook composition's bad inputs: each a located load-time error, the same lines from
``validate`` and from ``run`` (which refuses before it opens the audit log); and the shape
of a composed playbook (ids, scopes, one RTO, canary, objectives, nesting).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from console.cli import main
from console.model.playbook import load_playbook
from tests.model.conftest import INVENTORY

CHILD = """\
version: 1
name: child
kind: failover
service: orders-db
objectives: {rto: 2m, rpo: 5s}
canary: {service: orders-db, every: 1s}
params:
  from_site: {default: east, choices: [east, west]}
  to_site: {default: west, choices: [east, west]}
steps:
  - id: fence
    on: site:{{ from_site }}
    run: echo fence
    rto: start
  - id: promote
    on: site:{{ to_site }}
    run: echo promote
    rto: end
"""

PARENT = """\
version: 1
name: parent
kind: custom
params:
  dest: {default: west}
steps:
  - id: first
    on: db-east-1
    run: echo first
  - id: orders
    include: child.yaml
    vars: {from_site: east, to_site: "{{ dest }}"}
"""


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln and "file(s) checked" not in ln]


def _both(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, files: dict[str, str]
) -> tuple[int, list[str]]:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    inv, pb = tmp_path / "inv.yaml", tmp_path / "parent.yaml"
    inv.write_text(INVENTORY, encoding="utf-8")
    code_v = main(["validate", str(inv), str(pb)])
    out_v, err_v = capsys.readouterr()
    audit = tmp_path / "audit" / "audit.db"
    audit.parent.mkdir(exist_ok=True)
    code_r = main(["--audit", str(audit), "run", str(pb), "-i", str(inv), "--yes"])
    out_r, err_r = capsys.readouterr()
    assert not audit.exists(), "bad input must be refused before the audit log is opened"
    assert "Traceback" not in err_v + err_r
    assert code_v == code_r == 2, (out_v, err_v, out_r, err_r)
    assert _lines(err_v) == _lines(err_r), (err_v, err_r)
    return code_v, _lines(err_v)


def _at(text: str, marker: str) -> str:
    index = text.index(marker)
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{col}"


BAD: list[tuple[str, dict[str, str], str, str, str]] = [
    # (case, files, file the error is in, marker of the place, words)
    (
        "unknown file",
        {"parent.yaml": PARENT.replace("child.yaml", "chlid.yaml")},
        "parent.yaml",
        "chlid.yaml",
        "include 'chlid.yaml': no such playbook",
    ),
    (
        "cycle through two files",
        {
            "parent.yaml": PARENT,
            "child.yaml": CHILD
            + "  - id: loop\n    include: parent.yaml\n    vars: {dest: west}\n",
        },
        "child.yaml",
        "parent.yaml",
        "include cycle: parent.yaml -> child.yaml -> parent.yaml",
    ),
    (
        "a playbook including itself",
        {"parent.yaml": PARENT.replace("child.yaml", "parent.yaml"), "child.yaml": CHILD},
        "parent.yaml",
        "parent.yaml\n    vars",
        "include cycle: parent.yaml -> parent.yaml",
    ),
    (
        "variable clash",
        {
            "parent.yaml": PARENT.replace("dest: {default: west}", "to_site: {default: west}")
            .replace('to_site: "{{ dest }}"', "")
            .replace("east, }", "east}"),
            "child.yaml": CHILD,
        },
        "parent.yaml",
        "orders\n    include",
        "variable clash: child.yaml and this playbook both have a parameter 'to_site'",
    ),
    (
        "unknown variable",
        {"parent.yaml": PARENT.replace("to_site:", "to_stie:"), "child.yaml": CHILD},
        "parent.yaml",
        "to_stie",
        "vars.to_stie in include step 'orders': child.yaml has no parameter 'to_stie' "
        "(did you mean 'to_site'?)",
    ),
    (
        "a text value the parameter refuses",
        {"parent.yaml": PARENT.replace("from_site: east", "from_site: north"), "child.yaml": CHILD},
        "parent.yaml",
        "north",
        "vars.from_site in include step 'orders': from_site must be one of east, west, not 'north'",
    ),
    (
        "a parent's default the parameter refuses",
        {"parent.yaml": PARENT.replace("{default: west}", "{default: south}"), "child.yaml": CHILD},
        "parent.yaml",
        '"{{ dest }}"',
        "vars.to_site of include 'orders': to_site must be one of east, west, not 'south'",
    ),
    (
        "an included parameter without a value",
        {
            "parent.yaml": PARENT.replace("from_site: east, ", ""),
            "child.yaml": CHILD.replace("from_site: {default: east, ", "from_site: {"),
        },
        "parent.yaml",
        "orders\n    include",
        "parameter 'from_site' of child.yaml has no default: give it in vars:",
    ),
    (
        "an undefined name in a vars value",
        {"parent.yaml": PARENT.replace("{{ dest }}", "{{ dset }}"), "child.yaml": CHILD},
        "parent.yaml",
        "dset",
        "template uses undefined name 'dset'",
    ),
    (
        "a key an include does not take",
        {
            "parent.yaml": PARENT.replace("    include:", "    confirm: true\n    include:"),
            "child.yaml": CHILD,
        },
        "parent.yaml",
        "confirm",
        "unknown key 'confirm' in include step 'orders'",
    ),
    (
        "a problem inside the included file",
        {"parent.yaml": PARENT, "child.yaml": CHILD.replace("on: site:{{ to_site }}", "on: 3")},
        "child.yaml",
        "3\n",
        "'on' in step 'promote' must be a selector string",
    ),
    (
        "an included playbook's name the inventory lacks",
        {
            "parent.yaml": PARENT,
            "child.yaml": CHILD.replace("service: orders-db\nobj", "service: ordrs-db\nobj"),
        },
        "child.yaml",
        "ordrs-db",
        "service 'ordrs-db' is not in inventory 't'",
    ),
    (
        "two canaries on different services",
        {
            "parent.yaml": PARENT + "  - id: other\n    include: child2.yaml\n",
            "child.yaml": CHILD,
            "child2.yaml": CHILD.replace("name: child", "name: child2").replace(
                "canary: {service: orders-db", "canary: {service: sessions"
            ),
        },
        "parent.yaml",
        "id: other",
        "include 'other' brings a canary on 'sessions' and include 'orders' one on "
        "'orders-db': a run measures one canary",
    ),
    (
        "a secret bound to a parameter that is not secret",
        {
            "parent.yaml": PARENT.replace(
                "dest: {default: west}", "dest: {default: west}\n  tok: {}"
            )
            + '  - id: tokened\n    include: child2.yaml\n    vars: {token: "{{ tok }}"}\n',
            "child2.yaml": CHILD.replace("name: child", "name: child2").replace(
                "  to_site: {default: west, choices: [east, west]}\n",
                "  to_site: {default: west, choices: [east, west]}\n  token: {secret: true}\n",
            ),
        },
        "parent.yaml",
        '"{{ tok }}"',
        "vars.token in include step 'tokened': 'token' is a secret parameter of child2.yaml",
    ),
    (
        "the run's RTO would end before it starts",
        {
            "parent.yaml": PARENT.replace("run: echo first", "run: echo first\n    rto: end"),
            "child.yaml": CHILD,
        },
        "parent.yaml",
        "id: first",
        "rto: end comes before rto: start",
    ),
]


@pytest.mark.parametrize(
    ("case", "files", "where", "marker", "words"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_composition_is_a_located_error_in_validate_and_run(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    case: str,
    files: dict[str, str],
    where: str,
    marker: str,
    words: str,
) -> None:
    files = {"child.yaml": CHILD, **files}
    _, lines = _both(capsys, tmp_path, files)
    text = textwrap.dedent(files[where])
    place = f"{tmp_path / where}:{_at(text, marker)}: "
    found = [ln for ln in lines if ln.startswith(place) and words in ln]
    assert found, (place, words, lines)


def test_a_composed_playbook_joins_steps_marks_canary_and_objectives(tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text(CHILD)
    (tmp_path / "parent.yaml").write_text(
        PARENT
        + "  - id: back\n    include: child.yaml\n    vars: {from_site: west, to_site: east}\n"
    )
    pb = load_playbook(tmp_path / "parent.yaml")
    assert [s.id for s in pb.steps] == [
        "first",
        "orders/fence",
        "orders/promote",
        "back/fence",
        "back/promote",
    ]
    assert [s.rto for s in pb.steps] == [None, "start", None, None, "end"]
    assert [inc.id for inc in pb.includes] == ["orders", "back"]
    assert pb.steps[0].scope is None
    scope = pb.steps[3].scope
    assert scope is not None and scope.prefix == "back/" and scope.service == "orders-db"
    assert {k: t.source for k, t in scope.vars.items()} == {"from_site": "west", "to_site": "east"}
    assert pb.canary is not None and pb.canary.service == "orders-db"
    assert (pb.objectives.rto, pb.objectives.rpo) == (120.0, 5.0)
    assert pb.services_touched() == ("orders-db",)
    assert pb.includes[0].static_values({"dest": "east"}) == {
        "from_site": "east",
        "to_site": "east",
    }


def test_includes_nest_and_their_values_chain(tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text(CHILD)
    (tmp_path / "middle.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            name: middle
            kind: custom
            objectives: {rto: 30s}
            params:
              where: {default: west}
            steps:
              - id: inner
                include: child.yaml
                vars: {to_site: "{{ where }}"}
            """
        )
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "top.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            name: top
            kind: custom
            steps:
              - id: outer
                include: ../middle.yaml
                vars: {where: east}
            """
        )
    )
    pb = load_playbook(sub / "top.yaml")
    assert [s.id for s in pb.steps] == ["outer/inner/fence", "outer/inner/promote"]
    scope = pb.steps[0].scope
    assert scope is not None and scope.prefix == "outer/inner/"
    assert scope.parent is not None and scope.parent.prefix == "outer/"
    assert [s.include_id for s in scope.chain()] == ["outer", "inner"]
    assert pb.objectives.rto == 30.0 and pb.objectives.rpo == 5.0
