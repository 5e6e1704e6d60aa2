"""The HTML report in a real browser: headless Chromium renders it to PNG and prints it to PDF.

The screenshot must exist at the requested size and not be blank: the page has text on a white
background and the timeline's bars in their outcome colours (a green ``ok`` bar, a red
``failed`` one), which only appear if the inline SVG rendered. Set
``DRCONSOLE_REPORT_SCREENSHOTS=DIR`` to keep the PNGs (``screenshots/report-*.png``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from console.report import build_history, build_report, render_history, render_html
from tests.report.checks import Png, read_png
from tests.report.conftest import Drills

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason="chromium is not installed: apt-get install chromium",
    ),
]

WIDTH, HEIGHT = 1280, 2400
GREEN = (0x2E, 0x7D, 0x32)
RED = (0xC6, 0x28, 0x28)


def chromium(tmp: Path, url: str, *action: str, timeout: float = 180) -> None:
    """Run headless Chromium once with a fresh profile; raises if it fails."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    profile.mkdir()
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *action,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def screenshot(tmp: Path, html: str, name: str, keep: bool = True) -> tuple[Path, Png]:
    """Write the html, screenshot it, decode the PNG (kept in $DRCONSOLE_REPORT_SCREENSHOTS)."""
    page = tmp / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    png = tmp / f"{name}.png"
    chromium(tmp, page.as_uri(), f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}")
    assert png.is_file() and png.stat().st_size > 10_000
    folder = os.environ.get("DRCONSOLE_REPORT_SCREENSHOTS")
    if folder and keep:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(folder) / f"report-{name}.png")
    return png, read_png(png.read_bytes())


def colour_census(img: Png, step: int = 2) -> tuple[float, int, dict[tuple[int, int, int], int]]:
    """(fraction of non-white pixels, distinct colours, counts of the outcome colours),
    sampling every ``step``-th pixel."""
    non_white = 0
    seen: set[tuple[int, ...]] = set()
    hits = {GREEN: 0, RED: 0}
    total = 0
    for y in range(0, img.height, step):
        row = img.rows[y]
        for x in range(0, img.width, step):
            i = x * img.channels
            px = (row[i], row[i + 1], row[i + 2])
            total += 1
            if px != (255, 255, 255):
                non_white += 1
            seen.add(px)
            if px in hits:
                hits[px] += 1
    return non_white / total, len(seen), hits


def test_html_report_renders_in_chromium(drills: Drills, tmp_path: Path) -> None:
    with AuditStore(drills.audit, create=False) as store:
        ok_html = render_html(build_report(store, drills.runs["succeeded"]))
        failed_html = render_html(build_report(store, drills.runs["failed"]))
    _, ok = screenshot(tmp_path, ok_html, "drill")
    _, failed = screenshot(tmp_path, failed_html, "failed")
    for img in (ok, failed):
        assert (img.width, img.height) == (WIDTH, HEIGHT)
        ink, colours, _ = colour_census(img)
        assert ink > 0.03, f"the page looks blank ({ink:.1%} non-white)"
        assert colours > 40
    assert colour_census(ok)[2][GREEN] > 50, "no green ok bar: the timeline SVG did not render"
    assert colour_census(failed)[2][RED] > 20, "no red failed bar in the failed run's timeline"
    # a blank page really does fail the check above
    _, blank = screenshot(
        tmp_path, "<!DOCTYPE html><html><body></body></html>", "blank", keep=False
    )
    assert colour_census(blank)[0] < 0.001


def test_history_html_renders_in_chromium(drills: Drills, tmp_path: Path) -> None:
    with AuditStore(drills.audit, create=False) as store:
        html = render_history(build_history(store), "html")
    _, img = screenshot(tmp_path, html, "history")
    ink, colours, hits = colour_census(img)
    assert ink > 0.02 and colours > 30
    assert hits[GREEN] > 10, "no met-objective marks drawn in the trend"


def test_html_report_prints_to_pdf(drills: Drills, tmp_path: Path) -> None:
    with AuditStore(drills.audit, create=False) as store:
        html = render_html(build_report(store, drills.runs["failed"]))
    page = tmp_path / "failed.html"
    page.write_text(html, encoding="utf-8")
    pdf = tmp_path / "failed.pdf"
    chromium(tmp_path, page.as_uri(), f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(data) > 20_000
    counts = [int(n) for n in re.findall(rb"/Count (\d+)", data)]
    assert counts and 1 <= max(counts) <= 20, counts
