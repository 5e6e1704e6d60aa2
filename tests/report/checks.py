"""Validators the report tests share: JSON Schema, JUnit (junitparser), HTML well-formedness
and self-containment, Markdown shape, and a small PNG reader to tell a blank screenshot from a
real one (no imaging library is installed, and none is needed for this)."""

from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import jsonschema
import junitparser

from console.report import load_schema
from console.report.model import Report

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
"""HTML elements that have no end tag."""

SVG_EMPTY = {"line", "rect", "circle", "polyline", "path"}
"""SVG elements the report writes self-closed."""


def check_json(text: str) -> dict[str, Any]:
    """Parse a JSON report and validate it against the shipped schema; returns it."""
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    doc: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert doc["format"] == "drconsole-report"
    assert doc["version"] == 1
    return doc


@dataclass(frozen=True)
class JunitCase:
    """A parsed test case."""

    classname: str
    name: str
    result: str
    """passed, failure, error or skipped."""
    message: str
    time: float


def check_junit(text: str) -> tuple[dict[str, str], list[JunitCase]]:
    """Parse a JUnit report with junitparser; check its counts; return properties and cases."""
    xml = junitparser.JUnitXml.fromstring(text)
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    assert len(suites) == 1, "one testsuite per run"
    suite = suites[0]
    props = {p.name: p.value for p in suite.properties()}
    cases: list[JunitCase] = []
    for case in suite:
        results = case.result
        if not results:
            kind, message = "passed", ""
        else:
            first = results[0]
            kind = {
                junitparser.Failure: "failure",
                junitparser.Error: "error",
                junitparser.Skipped: "skipped",
            }[type(first)]
            message = first.message or ""
        cases.append(JunitCase(case.classname, case.name, kind, message, float(case.time)))
    assert suite.tests == len(cases)
    assert suite.failures == sum(1 for c in cases if c.result == "failure")
    assert suite.errors == sum(1 for c in cases if c.result == "error")
    assert suite.skipped == sum(1 for c in cases if c.result == "skipped")
    return props, cases


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.extend((tag, k, v) for k, v in attrs)
        if tag == "style":
            self._style = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.extend((tag, k, v) for k, v in attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._style = False
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._style:
            self.text.append(data)


def check_html(text: str) -> str:
    """Well-formed (every element closed in order), self-contained (no script, no external
    resource, inline CSS), charts as inline SVG. Returns the visible text."""
    assert text.startswith("<!DOCTYPE html>")
    parser = _Balance()
    parser.feed(text)
    parser.close()
    assert not parser.problems, parser.problems[:5]
    assert not parser.stack, f"unclosed: {parser.stack}"
    assert "script" not in parser.tags
    assert "link" not in parser.tags
    assert "img" not in parser.tags and "iframe" not in parser.tags
    assert "style" in parser.tags
    assert "svg" in parser.tags, "the timeline is inline SVG"
    for tag, key, value in parser.attrs:
        assert key not in ("src", "href", "srcset"), (tag, key, value)
        assert not key.startswith("on"), (tag, key)
        if key == "xmlns":
            continue
        assert "http:" not in (value or "") and "https:" not in (value or ""), (tag, key, value)
    assert "url(" not in text and "@import" not in text
    return "".join(parser.text)


def check_md(text: str, report: Report) -> None:
    """The Markdown's shape: title, verdict first, every step, the chain's final hash."""
    lines = text.splitlines()
    assert lines[0].startswith(("# Drill report", "# Incident report"))
    assert lines[2] == "**" + report.verdict.replace("<", "\\<") + "**"
    for heading in ("## Run", "## Objectives and measurements", "## Deviations (", "## Steps ("):
        assert any(line.startswith(heading) for line in lines), heading
    for step in report.steps:
        assert f" {step.id} — " in text or f"rollback {step.id} — " in text
    assert report.chain.final_hash in text
    prose: list[str] = []
    closing: str | None = None
    for line in lines:
        if closing is None and line.startswith("```"):
            closing = line[: len(line) - len(line.lstrip("`"))]
        elif closing is not None and line == closing:
            closing = None
        elif closing is None:
            prose.append(line)
    assert closing is None, "every fenced block is closed"
    unescaped = [ln for ln in prose if re.search(r"(?<!\\)<[A-Za-z/!]", ln)]
    assert not unescaped, f"markup outside code blocks: {unescaped[:3]}"


@dataclass(frozen=True)
class Png:
    """A decoded PNG."""

    width: int
    height: int
    channels: int
    rows: list[bytes]

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        """The pixel's channel values."""
        start = x * self.channels
        return tuple(self.rows[y][start : start + self.channels])


def read_png(data: bytes) -> Png:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = depth = colour = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        kind = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return Png(width, height, channels, rows)
