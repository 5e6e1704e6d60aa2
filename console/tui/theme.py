"""The console's default theme: high contrast on a dark background, for a tired operator.

Distinct hues per meaning (green ok, amber warning, red error, magenta unknown, cyan for the
console's own voice), so that the palette (``console.tui.palette``) can take every content
colour from theme variables. Any other Textual theme can be picked from the command palette.
"""

from __future__ import annotations

from textual.theme import Theme

NIGHT = Theme(
    name="drconsole-night",
    primary="#4FA3FF",
    secondary="#D77EE6",
    accent="#56C8D8",
    warning="#F2C14E",
    error="#FF5F5F",
    success="#7FD962",
    foreground="#E8E8E8",
    background="#0F1216",
    surface="#171B21",
    panel="#1F2630",
    dark=True,
)
"""The default theme."""
