"""The HTML report of every built-in combination, opened in a real browser (headless Chromium from
Debian's `chromium` package; `make setup` installs it when run as root).

The DOM after load must hold the SVG graph, every node and edge of the graph and every principal;
a screenshot of the graph (one per distinct graph) must not be blank: many distinct colours, few
uniform rows, and the escalation red when the graph has an escalation edge. The default config's
page is also screenshotted whole. Without Chromium the tests are skipped with a loud reason (and
`make test` prints the skip reasons).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path
from typing import Iterator

import pytest

from iam_foundry.access.check import builtin_combinations, builtin_config
from iam_foundry.config.load import load_config
from iam_foundry.paths import SOURCE_ROOT
from iam_foundry.report.html import render_html
from iam_foundry.report.model import Report, build_report
from iam_foundry.report.svg import RED

from .browser import Browser, find_chromium, read_png

COMBINATIONS = list(builtin_combinations())
SKIP_REASON = ("CHROMIUM NOT INSTALLED: the HTML report was NOT opened in a browser. Run `make setup` as root "
               "(it runs `apt-get install -y chromium`), or install Debian's chromium package yourself")
MIN_COLOURS = 8


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    binary = find_chromium()
    if binary is None:
        warnings.warn(SKIP_REASON)
        pytest.skip(SKIP_REASON)
    chromium = Browser(binary)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def screenshotted() -> set[str]:
    return set()


def _red(pixel: bytes) -> bool:
    target = bytes.fromhex(RED[1:])
    return all(abs(a - b) <= 24 for a, b in zip(pixel[:3], target))


def check_not_blank(png: Path, escalation: bool) -> None:
    image = read_png(png)
    colours = image.pixels()
    assert image.width > 100 and image.height > 40, f"{png}: {image.width}x{image.height}"
    assert len(colours) >= MIN_COLOURS, f"{png}: only {len(colours)} distinct colours: blank"
    assert image.uniform_rows() < 0.9 * image.height, f"{png}: {image.uniform_rows()} of {image.height} rows are one colour"
    if escalation:
        assert any(_red(c) for c in colours), f"{png}: escalation edges are not drawn in red"


def check_dom(dom: str, report: Report) -> None:
    svg = re.search(r"<svg[^>]*id=\"iam-graph\".*?</svg>", dom, re.S)
    assert svg, "the DOM after load holds the SVG graph"
    graph = svg.group(0)
    for node in report.graph.nodes:
        assert f'data-id="{node.id}"' in graph, f"node {node.label} drawn"
    assert graph.count('<g class="edge') == len(report.graph.edges)
    assert graph.count('class="edge escalation"') == sum(e.escalation for e in report.graph.edges)
    for verdict in report.verdicts:
        assert f'<span class="principal"><code>{verdict.principal}</code></span>' in dom, f"{verdict.principal} in the summary"
        assert f"<h3><code>{verdict.principal}</code></h3>" in dom, f"{verdict.principal} has its actions section"
        assert f'data-id="n_{re.sub(r"[^A-Za-z0-9]", "_", verdict.principal)}"' in graph, f"{verdict.principal} in the graph"


@pytest.mark.parametrize("profile,variant,addenda", COMBINATIONS, ids=[f"{p}-{v}-{'+'.join(a) or 'none'}" for p, v, a in COMBINATIONS])
def test_html_report_in_chromium(browser: Browser, screenshotted: set[str], tmp_path: Path, profile: str, variant: str,
                                 addenda: tuple[str, ...]) -> None:
    config = builtin_config(profile, variant, addenda)
    report = build_report(config, config.deployments[0])
    page = tmp_path / f"{profile}.html"
    html = render_html(report)
    page.write_text(html, encoding="utf-8")
    assert "src=" not in html and "href=" not in html and "<script" not in html, "self-contained: no external asset"
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg
    digest = hashlib.sha256(svg.group(0).encode()).hexdigest()
    png = tmp_path / "graph.png" if digest not in screenshotted else None
    # Half scale: a quarter of the pixels to decode in pure Python, still every colour drawn.
    dom = browser.open(page, png, clip="#iam-graph", scale=0.5)
    check_dom(dom, report)
    if png is not None:  # an identical SVG renders identically: one screenshot per distinct graph
        check_not_blank(png, any(e.escalation for e in report.graph.edges))
        screenshotted.add(digest)


def test_default_config_page_screenshot(browser: Browser, tmp_path: Path) -> None:
    assert SOURCE_ROOT is not None
    config = load_config(SOURCE_ROOT / "iam-foundry.toml")
    report = build_report(config, config.deployments[0])
    page = tmp_path / "default.html"
    page.write_text(render_html(report), encoding="utf-8")
    png = tmp_path / "page.png"
    dom = browser.open(page, png)
    check_dom(dom, report)
    check_not_blank(png, any(e.escalation for e in report.graph.edges))


def test_blank_screenshot_is_caught(browser: Browser, tmp_path: Path) -> None:
    """The blank check itself: an empty page fails it."""
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body style='background:#fff'></body></html>", encoding="utf-8")
    png = tmp_path / "blank.png"
    browser.open(page, png)
    with pytest.raises(AssertionError, match="blank|rows are one colour"):
        check_not_blank(png, False)
