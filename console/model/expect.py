"""What a command must do to pass: an exit status, words in its output; a checked command.

Used by ``run`` steps, by ``wait`` steps that poll a command, and by ``command`` gates. The
regular expressions are compiled at load time, so a broken pattern is a located error before
anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from console.model.fields import PlaybookReader
from console.model.reader import MapView
from console.model.selectors import Selector
from console.model.templates import Template
from console.model.yamlsrc import Node

EXPECT_KEYS = ("exit_code", "stdout_contains", "stdout_matches", "stderr_not_contains")


@dataclass(frozen=True)
class Expect:
    """What a successful command looks like."""

    exit_codes: tuple[int, ...] = (0,)
    stdout_contains: str | None = None
    stdout_matches: str | None = None
    stderr_not_contains: str | None = None

    def failure(self, exit_status: int | None, stdout: str, stderr: str) -> str | None:
        """Why a result does not meet the expectation, or None when it does."""
        if exit_status not in self.exit_codes:
            wanted = " or ".join(str(c) for c in self.exit_codes)
            return f"exit status {exit_status}, expected {wanted}"
        if self.stdout_contains is not None and self.stdout_contains not in stdout:
            return f"stdout does not contain {self.stdout_contains!r}"
        if self.stdout_matches is not None and not re.search(
            self.stdout_matches, stdout, re.MULTILINE
        ):
            return f"stdout does not match {self.stdout_matches!r}"
        if self.stderr_not_contains is not None and self.stderr_not_contains in stderr:
            return f"stderr contains {self.stderr_not_contains!r}"
        return None


@dataclass(frozen=True)
class CommandCheck:
    """A command run on selected hosts, judged by ``expect``."""

    on: Selector
    run: Template
    expect: Expect
    timeout: float | None


def build_expect(reader: PlaybookReader, node: Node | None, what: str) -> Expect:
    """An ``expect:`` mapping (the default expectation, exit 0, when absent)."""
    if node is None or node.value is None:
        return Expect()
    view = MapView(node, what, EXPECT_KEYS, reader.problems)
    if not view.ok:
        return Expect()
    codes: tuple[int, ...] = (0,)
    cn = view.get("exit_code")
    if cn is not None:
        raw = cn.value if isinstance(cn.value, list) else [cn]
        items = [n.value if isinstance(n, Node) else n for n in raw]
        if all(isinstance(i, int) and not isinstance(i, bool) for i in items) and items:
            codes = tuple(int(i) for i in items)
        else:
            reader.add(f"exit_code in {what} must be an integer or a list of them", cn.loc)
    pattern = view.text("stdout_matches")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            n = view.get("stdout_matches")
            assert n is not None
            reader.add(f"stdout_matches is not a valid regular expression: {exc}", n.loc)
            pattern = None
    return Expect(codes, view.text("stdout_contains"), pattern, view.text("stderr_not_contains"))


def build_command_check(
    reader: PlaybookReader, node: Node, what: str, extra: tuple[str, ...] = ()
) -> CommandCheck | None:
    """A ``{on, run, expect, timeout}`` mapping (None when broken: recorded)."""
    view = MapView(
        node,
        what,
        ("on", "run", "expect", "timeout", *extra),
        reader.problems,
        required=("on", "run"),
    )
    if not view.ok:
        return None
    on = reader.selector(view.get("on"), f"'on' in {what}")
    run = reader.template(view.get("run"), f"'run' in {what}", shell=True)
    if on is None or run is None:
        return None
    return CommandCheck(
        on,
        run,
        build_expect(reader, view.get("expect"), f"expect in {what}"),
        view.duration("timeout"),
    )
