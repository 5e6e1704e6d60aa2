"""The board's "recoverable window" panel: how far back each backed-up service can be recovered.

Pure formatting of the windows a live source collected (``console.status.window``): per
service its health as a word and a symbol, the oldest and newest restorable point (UTC), how
long ago the newest WAL was archived, when a restore of it was last verified (the newest
successful restore-verification or point-in-time-restore run, from the audit log:
``console.audit.verification``), and the reason when it is not OK (a WAL gap, a failing
``archive_command``...). Colour is never the only signal.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from rich.text import Text

from console.probes.window import RecoveryWindow
from console.tui.format import fmt_age, health_label
from console.tui.palette import Palette


def _when(epoch: float | None) -> str:
    return "?" if epoch is None else time.strftime("%m-%d %H:%M:%S", time.gmtime(epoch))


def window_text(
    windows: Mapping[str, RecoveryWindow],
    palette: Palette,
    now: float,
    verified: Mapping[str, float] | None = None,
) -> Text:
    """One line per service, and its reason on the next line when it is not OK.

    ``verified``: service -> when its restore was last verified (epoch); a service absent from
    it was never verified. None: not known (the log was not read), the column is left out."""
    width = min(20, max((len(n) for n in windows), default=8))
    text = Text()
    for i, (name, w) in enumerate(windows.items()):
        if i:
            text.append("\n")
        health = w.health.value
        text.append(f"{name:<{width}} ", style="bold")
        text.append(f"{health_label(health):<9}", style=palette.health(health))
        text.append(f" {_when(w.oldest)} .. {_when(w.newest)} UTC")
        archived = f"archived {fmt_age(w.age(now))}"
        text.append(f"  {archived:<18}", style=palette.muted)
        if verified is not None:
            at = verified.get(name)
            if at is None:
                text.append(" verified never", style=palette.warn)
            else:
                text.append(f" verified {fmt_age(max(0.0, now - at))}", style=palette.muted)
        if w.reason:
            text.append(f"\n{'':<{width}} {w.reason}", style=palette.health(health))
    return text
