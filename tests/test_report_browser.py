"""Open the demo report in a real headless browser (Debian's Chromium) and check what a reader sees.

Skipped when Chromium is not installed; CI installs it (``make install-test``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upliftree.cli import app

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

# Elements a stakeholder must see, by id.
KEY_ELEMENTS = ("card-effect", "card-best", "card-worst", "card-policy", "card-checks", "scores-1", "qini-figure",
                "uplift-figure", "deciles-figure", "tree-drawing", "segment-table", "policy-table", "check-list",
                "balance-table")

# Appended to a copy of the report: after loading, record for each key element whether it has a size and is
# not hidden, whether each image decoded, and the tree's drawn size, in a <pre> that --dump-dom prints.
PROBE = """
<script>
window.addEventListener("load", () => {
  const result = {};
  for (const id of %s) {
    const element = document.getElementById(id);
    if (!element) { result[id] = "missing"; continue; }
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    result[id] = box.width > 0 && box.height > 0 && style.display !== "none" && style.visibility !== "hidden"
      ? "visible" : "hidden";
  }
  for (const image of document.images) {
    result["image:" + image.id] = image.complete && image.naturalWidth > 100 ? "decoded" : "broken";
  }
  const tree = document.querySelector("#tree-drawing svg");
  result["tree:nodes"] = tree ? tree.querySelectorAll("g.node").length : 0;
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
def demo_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser")
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--n-samples", "5000", "--quiet"])
    assert result.exit_code == 0, result.stderr
    return out / "report.html"


def test_key_elements_are_visible(demo_report, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(demo_report.read_text().replace("</body>", PROBE % json.dumps(KEY_ELEMENTS) + "</body>"))
    dom = chromium("--window-size=1400,1000", "--dump-dom", probed.as_uri()).stdout
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, dom[-2000:]
    result = json.loads(match.group(1).replace("&quot;", '"'))
    assert {element: result[element] for element in KEY_ELEMENTS} == dict.fromkeys(KEY_ELEMENTS, "visible")
    for image in ("qini-figure", "uplift-figure", "deciles-figure"):
        assert result[f"image:{image}"] == "decoded"
    assert result["tree:nodes"] >= 3
    assert "Most responsive segment" in dom and "do not disturb" in dom


def test_screenshot(demo_report, tmp_path):
    shot = tmp_path / "report.png"
    chromium("--window-size=1400,3000", f"--screenshot={shot}", demo_report.as_uri())
    assert shot.exists()
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 3000)
    # A rendered page, not a blank one: the dark header band and many distinct colours (figures, badges).
    header = image.getpixel((20, 20))
    assert all(abs(channel - expected) <= 3 for channel, expected in zip(header, (0x17, 0x32, 0x4D), strict=True))
    assert len(image.getcolors(maxcolors=1_000_000)) > 500
