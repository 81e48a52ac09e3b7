"""Acceptance: the HTML report opens in headless Chromium and shows its table and its chart.

Skipped where no Chromium is installed (Debian: `apt-get install chromium chromium-driver`).
Three screenshots of the same page: as written, with the chart image hidden, with the metrics
table hidden (CSS visibility, so the layout stays put and only the element's own pixels
change). The page must not be blank, hiding either element must change a real area, the
chart's pixels must be coloured (the bars) and the table's dark (text), table above chart.
A chart that fails to decode leaves only a small broken-image icon, and fails the test.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.tools.test_report import make_results

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no headless Chromium installed")
SIZE = (1280, 1100)


def _screenshot(page: Path, out: Path) -> np.ndarray:
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--disable-extensions", "--no-first-run", f"--user-data-dir={out.parent / (out.stem + '-profile')}",
           f"--window-size={SIZE[0]},{SIZE[1]}", f"--screenshot={out}", page.resolve().as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    img = cv2.imread(str(out), cv2.IMREAD_COLOR)
    assert img is not None, f"no screenshot from {' '.join(cmd)}"
    return img


def _hidden(html: str, opening: str) -> str:
    """The page with the element whose opening tag starts with `opening` made invisible."""
    assert html.count(opening) == 1, opening
    return html.replace(opening, opening + ' style="visibility:hidden"', 1)


def test_report_renders_table_and_chart_in_headless_chromium(tmp_path):
    from tools.report.report import build_report

    paths = build_report(make_results(tmp_path))
    html = paths.html.read_text()
    variants = {
        "full": html,
        "no-chart": _hidden(html, '<img id="chart-bars"'),
        "no-table": _hidden(html, '<table class="metrics"'),
    }
    shots = {}
    for name, text in variants.items():
        page = tmp_path / f"{name}.html"
        page.write_text(text)
        shots[name] = _screenshot(page, tmp_path / f"{name}.png")
    full = shots["full"]
    assert full.shape[:2] == (SIZE[1], SIZE[0])
    assert full.std() > 20                                 # not a blank page
    hsv = cv2.cvtColor(full, cv2.COLOR_BGR2HSV)
    colourful = (hsv[..., 1] > 120) & (hsv[..., 2] > 80)
    assert colourful.mean() > 0.01                         # bars / frames are painted in colour

    chart = np.abs(full.astype(int) - shots["no-chart"].astype(int)).sum(axis=2) > 30
    chart_rows = np.flatnonzero(chart.any(axis=1))
    assert len(chart_rows) > 120 and chart.any(axis=0).sum() > 600   # a chart-sized area
    assert (colourful & chart).sum() > 0.1 * chart.sum()             # ... painted with coloured bars
    table = np.abs(full.astype(int) - shots["no-table"].astype(int)).sum(axis=2) > 30
    table_rows = np.flatnonzero(table.any(axis=1))
    assert len(table_rows) > 40 and table.any(axis=0).sum() > 400     # a table-sized area
    assert (table & (full.max(axis=2) < 90)).sum() > 300              # dark glyphs: its text
    assert table_rows.max() < chart_rows.min()                       # the table comes first
