"""Every kind of bad input is a located error and exit 2, never a traceback.

Each case checks the exact ``file:line:col`` and the exit code through the real CLI.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.model.conftest import INVENTORY, PLAYBOOK

Write = Callable[..., Path]
Validate = Callable[..., tuple[int, str, str]]


def one_error(validate: Validate, *paths: Path) -> str:
    code, out, err = validate(*paths)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "problem(s)" not in line]
    assert len(lines) == 1, err
    return lines[0]


def test_not_yaml(write: Write, validate: Validate) -> None:
    p = write("a.yaml", "version: 1\nname: [unclosed\nsites: {}\n")
    assert one_error(validate, p).startswith(f"{p}:3:")
    assert "not valid YAML" in one_error(validate, p)


def test_not_utf8(write: Write, validate: Validate) -> None:
    p = write("a.yaml", b"version: 1\nname: caf\xe9\n")
    assert one_error(validate, p) == f"{p}:2:10: not UTF-8: byte 0xe9 cannot be decoded"


def test_empty_file(write: Write, validate: Validate) -> None:
    p = write("a.yaml", "")
    assert one_error(validate, p) == f"{p}:1:1: the file is empty"


def test_comments_only_is_empty(write: Write, validate: Validate) -> None:
    p = write("a.yaml", "# nothing here\n")
    assert one_error(validate, p) == f"{p}:1:1: the file is empty"


def test_top_level_list(write: Write, validate: Validate) -> None:
    p = write("a.yaml", "- a\n- b\n")
    assert one_error(validate, p).startswith(f"{p}:1:1: expected a mapping at the top")


def test_neither_kind(write: Write, validate: Validate) -> None:
    p = write("a.yaml", "version: 1\nname: x\n")
    assert one_error(validate, p) == (
        f"{p}:1:1: not an inventory (no 'sites:') nor a playbook (no 'steps:')"
    )


def test_missing_version(write: Write, validate: Validate) -> None:
    p = write("a.yaml", INVENTORY.replace("version: 1\n", ""))
    assert one_error(validate, p) == f"{p}:1:1: the inventory needs 'version'"


def test_unknown_version(write: Write, validate: Validate) -> None:
    p = write("a.yaml", INVENTORY.replace("version: 1", "version: 7"))
    assert one_error(validate, p) == (
        f"{p}:1:10: unsupported version 7: this drconsole reads version 1"
    )


def test_duplicate_key(write: Write, validate: Validate) -> None:
    text = INVENTORY.replace("name: t\n", "name: t\nname: u\n")
    p = write("a.yaml", text)
    assert one_error(validate, p) == (f"{p}:3:1: duplicate key 'name' (first at line 2, column 1)")


def test_duplicate_nested_key(write: Write, validate: Validate) -> None:
    text = INVENTORY.replace(
        "      db-west-1: {port: 5432, role: replica}",
        "      db-west-1: {port: 5432, role: replica, port: 5433}",
    )
    p = write("a.yaml", text)
    assert one_error(validate, p) == (
        f"{p}:18:46: duplicate key 'port' (first at line 18, column 19)"
    )


def test_unknown_key_did_you_mean(write: Write, validate: Validate) -> None:
    p = write("a.yaml", INVENTORY.replace("    role: standby", "    rol: standby"))
    code, _, err = validate(p)
    assert code == 2
    assert err.splitlines()[:2] == [
        f"{p}:10:5: unknown key 'rol' in site 'west' (did you mean 'role'?)",
        f"{p}:10:5: site 'west' needs 'role'",
    ]


def test_unknown_top_key(write: Write, validate: Validate) -> None:
    p = write("a.yaml", INVENTORY.replace("name: t\n", "name: t\nservics: {}\n"))
    assert one_error(validate, p) == (
        f"{p}:3:1: unknown key 'servics' in the inventory (did you mean 'services'?)"
    )


def test_wrong_type(write: Write, validate: Validate) -> None:
    p = write("a.yaml", INVENTORY.replace("port: 2222, tags: [postgres]", "port: abc"))
    assert one_error(validate, p) == (
        f"{p}:8:45: 'port' in host 'db-east-1' must be an integer, not a string"
    )


def test_wrong_type_list(write: Write, validate: Validate) -> None:
    p = write("a.yaml", INVENTORY.replace("tags: [postgres]", "tags: {a: b}"))
    assert one_error(validate, p) == (
        f"{p}:8:57: 'tags' in host 'db-east-1' must be a list, not a mapping"
    )


def test_negative_duration(write: Write, validate: Validate) -> None:
    p = write("a.yaml", INVENTORY.replace("lag_warn: 5s", "lag_warn: -5s"))
    assert one_error(validate, p) == (
        f"{p}:19:28: 'lag_warn' in thresholds of 'orders-db': a duration cannot be negative: '-5s'"
    )


def test_negative_number_duration(write: Write, validate: Validate) -> None:
    p = write("a.yaml", INVENTORY.replace("connect_timeout: 5s", "connect_timeout: -1"))
    assert one_error(validate, p) == (
        f"{p}:3:37: 'connect_timeout' in ssh: a duration cannot be negative: -1"
    )


def test_malformed_duration(write: Write, validate: Validate) -> None:
    p = write("a.yaml", INVENTORY.replace("lag_crit: 30s", "lag_crit: 30 seconds"))
    assert one_error(validate, p) == (
        f"{p}:19:42: 'lag_crit' in thresholds of 'orders-db': malformed duration "
        "'30 seconds': use a number of seconds or 500ms, 5s, 2m, 1h, 1d"
    )


def test_member_unknown_host(write: Write, validate: Validate) -> None:
    p = write(
        "a.yaml", INVENTORY.replace("      db-west-1: {port: 5432", "      db-west-2: {port: 5432")
    )
    assert one_error(validate, p) == (
        f"{p}:18:7: member 'db-west-2' of service 'orders-db' is not a host of the inventory"
        " (did you mean 'db-west-1'?)"
    )


def test_host_in_two_sites(write: Write, validate: Validate) -> None:
    p = write(
        "a.yaml",
        INVENTORY.replace(
            "      db-west-1: {address: 127.0.2.1", "      db-east-1: {address: 127.0.2.1"
        ),
    )
    code, _, err = validate(p)
    assert code == 2
    assert f"{p}:12:7: host 'db-east-1' is in two sites: 'east' (line 8) and 'west'" in err


def test_two_steps_one_id(write: Write, validate: Validate) -> None:
    text = PLAYBOOK + "  - id: fence\n    on: db-east-1\n    run: echo again\n"
    p = write("p.yaml", text)
    assert one_error(validate, p) == f"{p}:11:9: two steps with id 'fence' (first at line 8)"


@pytest.mark.parametrize(
    ("selector", "col", "message"),
    [
        ("site:north", 14, "site 'north' is not in inventory 't'"),
        ("tag:mysql", 13, "tag 'mysql' is not in inventory 't'"),
        (
            "service:orders",
            17,
            "service 'orders' is not in inventory 't' (did you mean 'orders-db'?)",
        ),
        ("db-east-9", 9, "host 'db-east-9' is not in inventory 't' (did you mean 'db-east-1'?)"),
    ],
)
def test_selector_unknown_names(
    write: Write, validate: Validate, selector: str, col: int, message: str
) -> None:
    """Located at the offending value inside the selector, not at the selector's start."""
    inv = write("inv.yaml", INVENTORY)
    p = write("p.yaml", PLAYBOOK.replace("service:orders-db and site:{{ from_site }}", selector))
    assert one_error(validate, inv, p) == f"{p}:9:{col}: {message}"


def test_selector_param_default_unknown_site(write: Write, validate: Validate) -> None:
    """A default that names an unknown site is reported where the default is written."""
    inv = write("inv.yaml", INVENTORY)
    p = write("p.yaml", PLAYBOOK.replace("default: east", "default: north"))
    assert one_error(validate, inv, p) == (
        f"{p}:6:24: site 'north' (default of parameter from_site) is not in inventory 't'"
    )


def test_playbook_service_unknown(write: Write, validate: Validate) -> None:
    inv = write("inv.yaml", INVENTORY)
    p = write("p.yaml", PLAYBOOK.replace("service: orders-db", "service: billing"))
    code, _, err = validate(inv, p)
    assert code == 2
    assert f"{p}:4:10: service 'billing' is not in inventory 't'" in err


def test_template_undefined_param(write: Write, validate: Validate) -> None:
    p = write("p.yaml", PLAYBOOK.replace("run: echo {{ from_site }}", "run: echo {{ to_site }}"))
    assert one_error(validate, p) == (
        f"{p}:10:18: template uses undefined name 'to_site' (parameters: from_site)"
    )


def test_jinja_syntax_error(write: Write, validate: Validate) -> None:
    p = write("p.yaml", PLAYBOOK.replace("run: echo {{ from_site }}", "run: echo {{ from_site }"))
    err = one_error(validate, p)
    assert err.startswith(f"{p}:10:10: template syntax error:")


def test_jinja_syntax_error_in_block_is_located_on_its_line(
    write: Write, validate: Validate
) -> None:
    text = PLAYBOOK.replace(
        "    run: echo {{ from_site }}\n",
        "    run: |\n      echo one\n      echo {% if %}\n",
    )
    p = write("p.yaml", text)
    err = one_error(validate, p)
    assert err.startswith(f"{p}:12:1: template syntax error:"), err


def test_raw_on_a_param_is_refused(write: Write, validate: Validate) -> None:
    p = write("p.yaml", PLAYBOOK.replace("{{ from_site }}\n", "{{ from_site | raw }}\n", 1))
    p = write(
        "p.yaml", PLAYBOOK.replace("run: echo {{ from_site }}", "run: echo {{ from_site | raw }}")
    )
    assert "'| raw' may only be applied to inventory values" in one_error(validate, p)


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object:os.system",
        "!!python/object/apply:os.system",
        "!!python/name:os.system",
        "!!binary",
        "!!set",
    ],
)
def test_unsafe_tags_refused(write: Write, validate: Validate, tag: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    p = write("a.yaml", f"version: 1\nname: {tag} ['touch {marker}']\nsites: {{}}\n")
    err = one_error(validate, p)
    assert err.startswith(f"{p}:2:7: tag !!"), err
    assert "is not allowed" in err
    assert not marker.exists()


def test_custom_local_tag_refused(write: Write, validate: Validate) -> None:
    p = write("a.yaml", "version: 1\nname: !secret x\nsites: {}\n")
    assert one_error(validate, p) == f"{p}:2:7: tag !secret is not allowed (only plain YAML)"


def test_merge_key_refused(write: Write, validate: Validate) -> None:
    p = write("a.yaml", "version: 1\nbase: &b {a: 1}\nname: {<<: *b}\nsites: {}\n")
    code, _, err = validate(p)
    assert code == 2
    assert f"{p}:3:8: merge keys (<<) are not supported: write the keys out" in err


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.timeout(300)  # an unbounded expansion takes minutes and GBs: the guard is memory
def test_alias_bomb_refused_without_expanding(write: Write, validate: Validate) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("sites: *i")
    p = write("bomb.yaml", "\n".join(lines) + "\n")
    before = _peak_rss_kib()
    err = one_error(validate, p)
    assert "alias bomb" in err
    assert err.startswith(f"{p}:")
    # Not timed (a loaded machine can be 10x slower): the expansion is refused before it is
    # built, which the peak memory shows (9^9 values would take GBs).
    assert _peak_rss_kib() - before < 200_000


def test_recursive_alias_refused(write: Write, validate: Validate) -> None:
    p = write("a.yaml", "version: 1\nname: t\nsites: &s {east: *s}\n")
    err = one_error(validate, p)
    assert err.startswith(f"{p}:3:")
    assert "recursive alias" in err or "contains itself" in err


def test_huge_file_refused_unread(write: Write, validate: Validate, tmp_path: Path) -> None:
    p = tmp_path / "huge.yaml"
    with p.open("wb") as fh:
        chunk = b"# padding padding padding padding padding padding padding padding\n" * 16384
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(chunk)
        fh.truncate(50 * 1024 * 1024)
    before = _peak_rss_kib()
    err = one_error(validate, p)  # refused by its size, unread: the peak memory shows it
    assert err.startswith(f"{p}:1:1: file is 50.0 MiB")
    assert _peak_rss_kib() - before < 50_000


def test_all_problems_of_a_file_in_one_pass(write: Write, validate: Validate) -> None:
    text = INVENTORY.replace("role: standby", "role: backup").replace(
        "lag_warn: 5s", "lag_warn: 5x"
    )
    p = write("a.yaml", text)
    code, _, err = validate(p)
    assert code == 2
    assert (
        f"{p}:10:11: 'role' in site 'west' must be one of primary, standby, dr, not 'backup'" in err
    )
    assert f"{p}:19:28: 'lag_warn' in thresholds of 'orders-db': malformed duration '5x'" in err
    assert "2 problem(s) in 1 file(s)" in err


def test_missing_path(validate: Validate, tmp_path: Path) -> None:
    code, _, err = validate(tmp_path / "nope.yaml")
    assert code == 2
    assert err.strip() == f"{tmp_path / 'nope.yaml'}: no such file or directory"


def test_directory_without_yaml(validate: Validate, tmp_path: Path) -> None:
    code, _, err = validate(tmp_path)
    assert code == 2
    assert "no *.yaml or *.yml files found" in err


def test_bad_file_does_not_hide_good_ones(write: Write, validate: Validate) -> None:
    write("d/inv.yaml", INVENTORY)
    write("d/p.yaml", PLAYBOOK)
    bad = write("d/zz.yml", "version: 1\nname: [\n")
    code, _, err = validate(bad.parent)
    assert code == 2
    assert "3 file(s) checked: 1 inventory, 1 playbook(s); 1 problem(s) in 1 file(s)" in err
