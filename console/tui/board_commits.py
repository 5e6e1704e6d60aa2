"""The board's "awaiting commit" panel: runs on the store whose new state waits for a commit,
with the time left (``commit: {within, otherwise}`` in their playbooks).

Pure formatting of what ``console.audit.commits.pending_commits`` read; the board reads the
store in a thread worker and redraws the time left on every tick.
"""

from __future__ import annotations

from rich.text import Text

from console.audit.commits import PendingCommit
from console.tui.format import fmt_seconds
from console.tui.palette import Palette


def commits_text(pending: list[PendingCommit], now: float, palette: Palette) -> Text:
    """One line per run awaiting a commit: who, what, the time left and what happens then."""
    text = Text()
    for i, p in enumerate(pending):
        if i:
            text.append("\n")
        left = p.left(now)
        urgent = left < min(300.0, p.within / 5)
        text.append("AWAITING COMMIT ", style=palette.crit if urgent else palette.warn)
        text.append(f"{p.run_id[:12]}… {p.playbook}", style="bold")
        text.append(f" ({p.mode}, run by {p.run_operator}): ")
        text.append(f"{fmt_seconds(left)} left", style=palette.crit if urgent else "bold")
        then = "the rollback runs" if p.otherwise == "rollback" else "it is kept as it is"
        text.append(f" of {fmt_seconds(p.within)}; then {then}. ")
        text.append(f"drconsole commit {p.run_id[:12]} (or c on its run screen)", style="dim")
    return text
