"""Reading one playbook: its problems so far, its parameter names, and located fields.

The playbook's parts (parameters, gates, steps) are built by separate modules; each needs the
same three things, which this reader holds: the file (to locate a word inside a value), the
list of problems found so far (every problem of a file is reported in one pass), and the
parameter names that templates may use.
"""

from __future__ import annotations

from console.errors import InputError, Location
from console.model.reader import Problems, describe
from console.model.selectors import Selector, parse_selector
from console.model.templates import Template, compile_template
from console.model.yamlsrc import Node, Source, text_origin


class PlaybookReader:
    """The state shared by the builders of one playbook's parts."""

    def __init__(self, source: Source) -> None:
        self.source = source
        """The file being read."""
        self.problems = Problems()
        """Every problem found so far."""
        self.params: tuple[str, ...] = ()
        """The playbook's parameter names (set once they are read)."""

    def add(self, message: str, loc: Location) -> None:
        """Record one located problem."""
        self.problems.add(message, loc)

    def template(self, node: Node | None, what: str, *, shell: bool = False) -> Template | None:
        """A compiled template from a text value (None when absent or broken: recorded)."""
        if node is None or node.value is None:
            return None
        if isinstance(node.value, dict | list | bool):
            self.add(f"{what} must be text, not {describe(node.value)}", node.loc)
            return None
        try:
            return compile_template(
                str(node.value),
                node.loc,
                shell=shell,
                params=self.params,
                block=node.block,
                origin=text_origin(self.source, node),
            )
        except InputError as exc:
            self.problems.errors.append(exc)
            return None

    def selector(self, node: Node | None, what: str) -> Selector | None:
        """A parsed host selector (None when absent or broken: recorded)."""
        if node is None or node.value is None:
            return None
        if not isinstance(node.value, str):
            self.add(f"{what} must be a selector string, not {describe(node.value)}", node.loc)
            return None
        try:
            return parse_selector(node.value, node.loc, self.params, text_origin(self.source, node))
        except InputError as exc:
            self.problems.errors.append(exc)
            return None
