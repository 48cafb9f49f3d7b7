"""Open reports in a real headless browser (Debian's Chromium) and check what a reader sees: every key element
visible and inside the page width, no table wider than its frame, the tree's text at a readable size, folding
that works, and the tree drawn when Graphviz's ``dot`` is missing.

Skipped when Chromium is not installed; CI installs it (``make install-test``). Set ``UPLIFTREE_SCREENSHOTS``
to a folder to keep the screenshots for a look.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upliftree import load
from upliftree.cli import app
from upliftree.datasets import FEATURES, make_uplift_data
from upliftree.report import ReportSettings, experiment_from_frame, make_report

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

# Elements a stakeholder must see, by id.
KEY_ELEMENTS = ("card-effect", "card-best", "card-worst", "card-policy", "card-checks", "scores-1", "qini-figure",
                "uplift-figure", "deciles-figure", "tree-drawing", "segment-table", "policy-table", "check-list",
                "balance-table")
MIN_TEXT_PX = 11
WIDTHS = (1280, 1024)

# Appended to a copy of the report: after loading, record for each key element whether it is visible and
# inside the viewport, which tables or frames are wider than their box, the tree's text sizes, and whether
# folding the root hides its subtree; in a <pre> that --dump-dom prints.
PROBE = """
<script>
window.addEventListener("load", () => {
  const result = {elements: {}, overflowing: [], images: {}};
  const width = document.documentElement.clientWidth;
  for (const id of %s) {
    const element = document.getElementById(id);
    if (!element) { result.elements[id] = "missing"; continue; }
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    const shown = box.width > 0 && box.height > 0 && style.display !== "none" && style.visibility !== "hidden";
    result.elements[id] = !shown ? "hidden" : (box.left < -1 || box.right > width + 1 ? "outside" : "visible");
  }
  for (const element of document.querySelectorAll("table, .wide, .tree-grid, .cards")) {
    if (element.scrollWidth > element.clientWidth + 1 || element.getBoundingClientRect().right > width + 1) {
      result.overflowing.push(`${element.id || element.className} ${element.scrollWidth}>${element.clientWidth}`);
    }
  }
  result.page_overflow = document.documentElement.scrollWidth > width + 1;
  for (const image of document.images) {
    result.images[image.id] = image.complete && image.naturalWidth > 100 ? "decoded" : "broken";
  }
  const texts = document.querySelectorAll("#tree-drawing .tnode .condition, #tree-drawing .tnode .value, " +
                                          "#tree-drawing .tnode .arms span, #tree-drawing .tnode .share");
  result.tree_texts = texts.length;
  result.smallest_font = Math.min(...Array.from(texts, text => parseFloat(getComputedStyle(text).fontSize)));
  result.smallest_glyph_box = Math.min(...Array.from(texts, text => text.getBoundingClientRect().height));
  result.tree_rows = document.querySelectorAll("#tree-drawing .tnode").length;
  const children = document.querySelector("#tree-drawing > .branch > .children");
  const toggle = document.querySelector("#tree-drawing > .branch > .tnode .toggle");
  result.unfolded = children ? getComputedStyle(children).display : "none";
  if (toggle) { toggle.click(); }
  result.folded = children ? getComputedStyle(children).display : "none";
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify(result);
  document.body.appendChild(probe);
});
</script>
"""


def chromium(*args: str) -> subprocess.CompletedProcess:
    # No network: every resource the report needs is inside the file.
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
               "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=5000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """The demo (binary outcome, one treatment, a policy) and a three-arm report made without ``dot``."""
    out = tmp_path_factory.mktemp("browser")
    result = CliRunner().invoke(app, ["demo", "--out", str(out / "demo"), "--n-samples", "5000", "--quiet"])
    assert result.exit_code == 0, result.stderr
    frame = make_uplift_data(6_000, n_treatments=2, random_state=7)
    frame["treatment"] = frame["treatment"].map({"control": "No E-Mail", "email": "Mens E-Mail",
                                                 "discount": "Womens E-Mail"})
    experiment = experiment_from_frame(frame, treatment="treatment", control="No E-Mail", outcome="outcome",
                                       features=FEATURES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(out))  # no Graphviz: the tree must still be drawn
        make_report(experiment, out / "three", ReportSettings(max_depth=4, min_samples_leaf=100, n_estimators=5,
                                                              n_boot=20, benefit=25.0, cost=0.5))
    return {"demo": out / "demo" / "report.html", "three": out / "three" / "report.html"}


def probe(report: Path, folder: Path, width: int) -> dict:
    probed = folder / f"probed_{report.parent.name}_{width}.html"
    probed.write_text(report.read_text().replace("</body>", PROBE % json.dumps(KEY_ELEMENTS) + "</body>"))
    dom = chromium(f"--window-size={width},1000", "--dump-dom", probed.as_uri()).stdout
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, dom[-2000:]
    return json.loads(match.group(1).replace("&quot;", '"'))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["demo", "three"])
def test_report_fits_the_page_and_the_tree_is_readable(reports, tmp_path, name, width):
    report = reports[name]
    result = probe(report, tmp_path, width)
    assert result["elements"] == dict.fromkeys(KEY_ELEMENTS, "visible")
    assert result["overflowing"] == [] and not result["page_overflow"]
    assert result["images"] == dict.fromkeys(("qini-figure", "uplift-figure", "deciles-figure"), "decoded")
    n_nodes = load(report.parent / "model.json").tree_.n_nodes
    assert n_nodes >= 7 and result["tree_rows"] == n_nodes
    assert result["tree_texts"] > 4 * n_nodes
    assert result["smallest_font"] >= MIN_TEXT_PX and result["smallest_glyph_box"] >= MIN_TEXT_PX
    assert result["unfolded"] == "block" and result["folded"] == "none"  # clicking the root's toggle folds


def test_tree_without_graphviz_is_drawn_and_named(reports):
    html = reports["three"].read_text()
    assert "drawn with matplotlib" in html
    svg = (reports["three"].parent / "tree.svg").read_text()
    assert "<svg" in svg and "matplotlib" in svg
    assert "drawn with Graphviz (dot)" in reports["demo"].read_text()


@pytest.mark.parametrize("name", ["demo", "three"])
def test_screenshot(reports, tmp_path, name):
    folder = Path(os.environ.get("UPLIFTREE_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"report_{name}.png"
    chromium("--window-size=1280,6000", f"--screenshot={shot}", reports[name].as_uri())
    assert shot.exists()
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 6000)
    # A rendered page, not a blank one: the dark header band and many distinct colours (figures, badges).
    header = image.getpixel((20, 20))
    assert all(abs(channel - expected) <= 3 for channel, expected in zip(header, (0x17, 0x32, 0x4D), strict=True))
    assert len(image.getcolors(maxcolors=1_000_000)) > 500
