"""One site: a bordered panel whose title names the site and whose subtitle says its state
(OK, degraded, or DOWN with how long ago it was last seen), around its members' table."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from console.tui.board_model import SiteHeadline
from console.tui.widgets.member_table import MemberTable


class SitePanel(Vertical):
    """A site's panel; ``-down`` / ``-warn`` / ``-ok`` classes colour its border."""

    DEFAULT_CSS = """
    SitePanel {
        height: auto;
        border: round $primary;
        border-title-style: bold;
        border-subtitle-style: bold;
        padding: 0 0;
        margin: 0 0 0 0;
    }
    SitePanel.-ok { border: round $success 70%; }
    SitePanel.-warn { border: round $warning; }
    SitePanel.-unknown { border: round $secondary; }
    SitePanel.-down { border: heavy $error; }
    SitePanel.-down > MemberTable { color: $text-muted; }
    """

    def __init__(self, site: str) -> None:
        super().__init__(id=f"site-{site}")
        self.site = site
        """The inventory site this panel shows."""
        self.table = MemberTable(id=f"table-{site}")
        """Its members."""

    def compose(self) -> ComposeResult:
        yield self.table

    def show_headline(self, headline: SiteHeadline) -> None:
        """Title, state and border colour."""
        self.border_title = headline.title
        self.border_subtitle = headline.status
        for level in ("ok", "warn", "down", "unknown"):
            self.set_class(headline.level == level, f"-{level}")
