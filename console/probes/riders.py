"""Extra commands that ride in the same SSH exec as a member's replication probe.

Each SSH exec costs a channel, a remote shell and a round trip; on a busy host that is most
of what a warm status sweep costs. The recoverable window asks each service's primary a
question of its own (the archiver, the binlogs, the AOF), so instead of a second exec to the
same host the question is appended to that member's probe command and its answer split off
the probe's output. The probe's own output, stderr and exit status are unchanged: the rider's
stderr is discarded and the probe's status is the exec's status.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

MARK = "--drconsole-rider--"
"""Starts the line ``MARK STATUS`` that ends the probe's output and then each rider's (a
database client that runs the riders' statements itself prints ``MARK: 0`` or ``MARK 0``)."""

_END = re.compile(re.escape(MARK) + r":? (\S+)$")

Answer = tuple[int | None, str]
"""A section's exit status (None: no answer) and its stdout."""


def ride_along(command: str, riders: Sequence[str]) -> str:
    """``command`` (the probe) followed by each rider in the same shell.

    After the probe's output and after each rider's comes a line ``MARK STATUS`` (the
    section's exit status). Each rider runs in a subshell (an ``exit`` or ``cd`` in it stays
    there). The command exits with the probe's status.
    """
    if not riders:
        return command
    parts = [f"{{ {command}\n}}; s=$?; printf '\\n%s %s\\n' {MARK} $s"]
    for rider in riders:
        parts.append(f"( {rider}\n) 2>/dev/null; printf '\\n%s %s\\n' {MARK} $?")
    parts.append("exit $s")
    return "; ".join(parts)


def split_ride(stdout: Sequence[str], riders: int) -> tuple[list[str], Answer, list[Answer]]:
    """The probe's stdout lines and its (status, complete) answer, and each rider's answer.

    A section whose end line is missing (the exec timed out or was cut) has status None; with
    no riders the probe's status is None too (the caller keeps the exec's own).
    """
    lines = list(stdout)
    if riders == 0:
        return lines, (None, ""), []
    sections: list[tuple[list[str], int | None]] = []
    body: list[str] = []
    for line in lines:
        end = _END.match(line.strip())
        if end is not None and len(sections) <= riders:
            if body and body[-1] == "":
                body.pop()  # the newline printed before the end line
            code = end.group(1)
            sections.append((body, int(code) if code.isdigit() else None))
            body = []
        else:
            body.append(line)
    if len(sections) <= riders:
        if body and body[-1] == "":
            body.pop()
        sections.append((body, None))  # the section that was cut off
    while len(sections) < riders + 1:
        sections.append(([], None))
    probe_lines, probe_status = sections[0]
    answers: list[Answer] = [(status, "\n".join(part)) for part, status in sections[1:]]
    return probe_lines, (probe_status, ""), answers[:riders]


def pg_riding(psql: str, sqls: Sequence[str]) -> str:
    """``psql ... -c PROBE`` (``psql``) with each statement after it in the same session, an
    end line after each: no second client, no second connection."""
    end = shlex.quote(f"SELECT '{MARK} 0'")
    return psql + "".join(f" -c {end} -c {shlex.quote(sql)}" for sql in sqls) + f" -c {end}"


def mysql_riding(statements: str, sqls: Sequence[str]) -> str:
    """The probe's statements (vertical output) with each of ``sqls`` after it and an end
    row after each, for one ``-e``."""
    end = f"SELECT 0 AS `{MARK}`\\G "
    return statements + " " + end + "".join(f"{sql.rstrip(';')}; {end}" for sql in sqls)
