"""The report checked in a real browser: a generated report's index.html is loaded in
headless Chromium (Debian's `chromium`, setup.sh), and every image on the page, and every
figure file the page links (SVG, PNG), must load and render (naturalWidth > 0), and every
local file the page refers to must exist.

The page is loaded as a copy beside index.html with a small script added at its end (the
report itself has no scripts): on `load` it records each image's natural size, then loads
each linked figure file as an image, and writes the findings as JSON into the DOM, which
`--dump-dom` prints once the page's virtual time budget is spent.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ioca_results_factory import write_results

from ioca_analysis.cli import main

CHECK_SCRIPT = """
<script>
window.addEventListener("load", async () => {
  const out = {images: [], links: []};
  for (const img of document.images)
    out.images.push({src: img.getAttribute("src"), width: img.naturalWidth,
                     complete: img.complete});
  for (const a of document.querySelectorAll("a[href]")) {
    const href = a.getAttribute("href");
    if (href.startsWith("#")) continue;
    const ok = await new Promise((done) => {
      const probe = new Image();
      probe.onload = () => done(probe.naturalWidth > 0);
      probe.onerror = () => done(false);
      probe.src = href;
    });
    out.links.push({href: href, ok: ok});
  }
  const pre = document.createElement("pre");
  pre.id = "ioca-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium not found: install it (setup.sh lists the Debian package "
                    "chromium)", pytrace=False)
    return path


def browser_check(page: Path, profile: Path) -> dict:
    """Load `page` with the check script in headless Chromium; the script's findings."""
    text = page.read_text(encoding="utf-8")
    probe = page.with_name("_browser_check.html")
    probe.write_text(text.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    try:
        run = subprocess.run(
            [chromium(), "--headless", "--disable-gpu", "--no-sandbox",
             "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
             "--virtual-time-budget=20000", "--dump-dom", probe.resolve().as_uri()],
            capture_output=True, text=True, timeout=120)
    finally:
        probe.unlink()
    m = re.search(r'<pre id="ioca-check">(.*?)</pre>', run.stdout, re.S)
    assert m, f"the check script did not run (chromium exit {run.returncode}):\n{run.stderr[-2000:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def local_references(page: Path):
    text = page.read_text(encoding="utf-8")
    refs = re.findall(r'(?:src|href)="([^"#][^"]*)"', text)
    return [r for r in refs if "://" not in r]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    results = folder / "results.h5"
    # One condition, one scope and quantity: every kind of figure, few panels (fast).
    write_results(results, conditions=(("synthetic", "relu", (6, 4)),), seeds=(1, 2),
                  quantities=("mutual_information",), scopes=["network"], repeats=2,
                  measure_names=("mutual_information",), training_plane=True,
                  measure_samples=64)
    out = folder / "report"
    assert main(["report", str(results), "-o", str(out)]) == 0
    return out


def test_every_image_and_linked_figure_renders_in_chromium(report, tmp_path):
    page = report / "index.html"
    refs = local_references(page)
    assert refs, "the page refers to no file"
    missing = [r for r in refs if not (report / r).is_file()]
    assert missing == [], f"the page refers to missing files: {missing}"
    found = browser_check(page, tmp_path / "profile")
    images = found["images"]
    pngs = sorted(p.name for p in report.glob("*.png"))
    assert sorted(i["src"] for i in images) == pngs          # every figure is on the page
    broken = [i["src"] for i in images if not (i["complete"] and i["width"] > 0)]
    assert broken == [], f"images that do not render: {broken}"
    svgs = sorted(p.name for p in report.glob("*.svg"))
    assert len(svgs) == len(pngs)
    linked = {x["href"]: x["ok"] for x in found["links"]}
    assert sorted(h for h in linked if h.endswith(".svg")) == svgs
    failed = [h for h, ok in linked.items() if not ok]
    assert failed == [], f"linked files that do not render: {failed}"


def test_the_check_catches_a_missing_and_a_broken_image(report, tmp_path):
    """The browser check can fail: a page with a missing and a corrupt figure."""
    bad = tmp_path / "bad"
    shutil.copytree(report, bad)
    pngs = sorted(bad.glob("*.png"))
    os.remove(pngs[0])
    pngs[1].write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    found = browser_check(bad / "index.html", tmp_path / "profile")
    broken = {i["src"] for i in found["images"] if not (i["complete"] and i["width"] > 0)}
    assert broken == {pngs[0].name, pngs[1].name}
