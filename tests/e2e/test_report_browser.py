"""The journey-map report in a real browser: headless Chromium opens the file from disk with
every network name unresolvable, runs its scripts, and we read back the DOM it rendered and a
PNG screenshot (kept under the test's tmp dir).

Chromium is Debian's `chromium` package. When it is absent and the test runs as root with
apt-get, the session fixture installs it once (under a file lock, so parallel workers do not
race for dpkg); where it cannot be installed the tests skip and say how to install it.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from transforms.report import build_report

# one xdist worker runs the whole module: its module-scoped fixtures are built once, not per worker
pytestmark = pytest.mark.xdist_group("report_browser")

INSTALL_TIMEOUT_SECONDS = 900
RENDER_TIMEOUT_SECONDS = 120
SECTIONS = ("summary", "journey-map", "pain-points", "paths", "funnels", "trends", "step-trends", "sessions",
            "designs", "retention", "attribution", "health")
# each chart's div and the SVG marks of its traces (what plotly draws when data arrived)
CHARTS = {
    "chart-sankey": r'class="sankey-node"',
    "chart-funnel-0": r'<g class="point"><path [^>]*d="M',
    "chart-funnel-1": r'<g class="point"><path [^>]*d="M',
    "chart-trends": r'class="js-line"[^>]*d="M',
    "chart-attribution": r'<g class="point"><path [^>]*d="M',
    "chart-step-trend-0": r'class="js-line"[^>]*d="M',
    "chart-sessions": r'<g class="point"><path [^>]*d="M',
    "chart-lifecycle": r'<g class="point"><path [^>]*d="M',
}


def _load_synthetic():
    """The synthetic warehouse builder lives with the report's unit tests."""
    path = Path(__file__).resolve().parents[1] / "unit" / "test_report.py"
    spec = importlib.util.spec_from_file_location("_report_synthetic", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _apt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["apt-get", *args], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, check=False)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium, installed with apt-get once if needed."""
    found = _find_chromium()
    if found:
        return found
    how = "install it with `apt-get install -y chromium` (Debian) to run this test"
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"Chromium is not installed and this test can only install it as root with apt-get: {how}")
    lock = Path(tempfile.gettempdir()) / "journeys-chromium-install.lock"
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # another pytest worker may be installing right now
        if _find_chromium() is None:
            try:
                result = _apt("install", "-y", "chromium")
                if result.returncode != 0:  # an empty or stale package list: refresh once
                    _apt("update")
                    result = _apt("install", "-y", "chromium")
            except subprocess.TimeoutExpired:
                pytest.skip(f"installing Chromium took over {INSTALL_TIMEOUT_SECONDS} s: {how}")
            if result.returncode != 0:
                tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
                pytest.skip(f"Chromium could not be installed (apt-get said: {' / '.join(tail)}): {how}")
    found = _find_chromium()
    if not found:
        pytest.skip(f"apt-get ran but no chromium binary appeared: {how}")
    return found


def render(chromium: str, page: Path, work: Path, width: int = 1400) -> tuple[str, Path, str]:
    """Open `page` in headless Chromium `width` px wide: the DOM after its scripts ran, a
    screenshot, the log."""
    png = work / f"report-{width}.png"
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # the page must not need the network
        f"--user-data-dir={work / 'profile'}", f"--screenshot={png}", f"--window-size={width},4000",
        "--virtual-time-budget=8000", "--enable-logging=stderr", "--v=0", "--dump-dom",
        page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_TIMEOUT_SECONDS,
                            check=False, cwd=work)
    assert result.returncode == 0, f"chromium failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result.stdout, png, result.stderr


def _console_errors(log: str) -> list[str]:
    """Uncaught exceptions Chromium logged from the page's console (console.error calls log
    without a level there; the page's own collector catches those)."""
    return [line for line in log.splitlines() if ":CONSOLE" in line and "Uncaught" in line]


def _chart_segment(dom: str, div_id: str) -> str:
    start = dom.index(f'id="{div_id}"')
    ends = [i for i in (dom.find('id="chart-', start + 10), dom.find("</section>", start)) if i > 0]
    return dom[start:min(ends)]


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the synthetic warehouse, built once and opened at each width."""
    work = tmp_path_factory.mktemp("report_page")
    warehouse = work / "journeys.duckdb"
    _load_synthetic().build_synthetic_warehouse(warehouse)
    return build_report(warehouse, work / "report")


@pytest.fixture(scope="module")
def rendered(chromium: str, report_page: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str]:
    return render(chromium, report_page, tmp_path_factory.mktemp("report_browser"))


def test_screenshot_is_saved(rendered) -> None:
    _, png, _ = rendered
    assert png.exists(), "no screenshot written"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 100_000  # a page full of charts, not a blank canvas
    print(f"screenshot: {png}")


def test_no_script_errors(rendered) -> None:
    dom, _, log = rendered
    match = re.search(r'<div id="report-errors"[^>]*data-count="(\d+)"[^>]*>(.*?)</div>', dom, flags=re.S)
    assert match, "the error collector element is missing from the rendered page"
    assert match.group(1) == "0", f"script errors in the page: {match.group(2)}"
    assert not _console_errors(log), _console_errors(log)
    charts = re.search(r'<body[^>]*data-charts="(\d+)"', dom)
    assert charts, "the page's load handler did not run"


def test_every_section_rendered(rendered) -> None:
    dom, _, _ = rendered
    for section in SECTIONS:
        assert re.search(rf'id="{section}"[^>]*data-section="{section}"', dom), f"section {section} missing"
    assert "No data" not in re.sub(r"<script.*?</script>", "", dom, flags=re.S)


def test_every_chart_drew_its_data(rendered) -> None:
    dom, _, _ = rendered
    for div_id, mark in CHARTS.items():
        segment = _chart_segment(dom, div_id)
        assert 'class="main-svg"' in segment, f"{div_id}: plotly drew no SVG"
        assert len(re.findall(mark, segment)) >= 2, f"{div_id}: the SVG has no data marks ({mark})"


def test_journey_map_rendered_per_persona(rendered) -> None:
    dom, _, _ = rendered
    panels = re.findall(r'<div class="panel" id="(persona-[^"]+)" role="tabpanel"[^>]*>', dom)
    assert panels[:1] == ["persona-all"] and len(panels) == 5
    assert dom.count('<svg class="emotion"') == 5
    assert len(re.findall(r'<circle cx="[\d.]+" cy="[\d.]+" r="\d+"', dom)) >= 5  # emotion points
    assert len(re.findall(r'<div class="heat" style="background:rgba', dom)) >= 20  # heat cells


def test_error_collector_catches_errors(chromium: str, rendered, tmp_path: Path) -> None:
    """The check above is not vacuous: the page's own collector, in this browser, reports a
    thrown error and a resource it could not load."""
    dom, _, _ = rendered
    collector = re.search(r"<script>\s*/\* Collects script errors.*?</script>", dom, flags=re.S)
    assert collector
    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><html><head>" + collector.group(0) + "</head><body>"
        '<div id="report-errors" data-count="0" hidden></div>'
        '<img src="https://example.invalid/x.png">'
        "<script>throw new Error('planted failure');</script></body></html>",
        encoding="utf-8",
    )
    broken_dom, _, log = render(chromium, page, tmp_path)
    match = re.search(r'data-count="(\d+)"[^>]*>(.*?)</div>', broken_dom, flags=re.S)
    assert match and int(match.group(1)) >= 2, broken_dom[-2000:]
    assert "planted failure" in match.group(2) and "failed to load" in match.group(2)
    assert any("planted failure" in line for line in _console_errors(log))



@pytest.fixture(scope="module")
def rendered_1024(chromium: str, report_page: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str]:
    return render(chromium, report_page, tmp_path_factory.mktemp("report_browser_1024"), width=1024)


def _layout_fact(dom: str, name: str) -> int:
    match = re.search(rf'<body[^>]*data-{name}="(-?\d+)"', dom)
    assert match, f"the page's load handler did not record {name}"
    return int(match.group(1))


@pytest.mark.parametrize("which", ["rendered", "rendered_1024"])
def test_journey_map_and_page_fit_the_window(which: str, request: pytest.FixtureRequest) -> None:
    """At 1400 and 1024 px the journey-map grid shows every phase, the last (Usage) included,
    without a horizontal scroll bar, and nothing on the page is wider than the window."""
    dom, png, _ = request.getfixturevalue(which)
    width = 1024 if which.endswith("1024") else 1400
    assert _layout_fact(dom, "viewport") == width
    assert _layout_fact(dom, "map-overflow") <= 0, f"the journey map scrolls sideways at {width} px ({png})"
    assert _layout_fact(dom, "page-overflow") <= 0, f"the page is wider than {width} px ({png})"
    assert png.exists() and png.stat().st_size > 100_000


def test_every_chart_drew_its_data_at_1024(rendered_1024) -> None:
    dom, _, log = rendered_1024
    assert re.search(r'<div id="report-errors"[^>]*data-count="0"', dom)
    assert not _console_errors(log)
    for div_id, mark in CHARTS.items():
        segment = _chart_segment(dom, div_id)
        assert len(re.findall(mark, segment)) >= 2, f"{div_id}: no data marks at 1024 px"
