"""`callcue report` end to end: calls played through the virtual dongle, their logs archived,
the report written, then opened in headless Chromium (Debian `chromium`, installed by
.ci/run): every embedded plot must load, the page must log no errors, and a screenshot is
kept (build/test-artifacts/report.png) to look at."""

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from callcue import simulator, synth
from callcue.archive import Archive

from .conftest import IN_CI, ROOT

ARTIFACTS = ROOT / "build" / "test-artifacts"

# Injected into a copy of the report: records script errors, console errors and failed
# resource loads, then on `load` writes what it saw into <body data-check="...">.
_PROBE = """<script>
window.__errs = [];
window.addEventListener('error', function (e) {
  window.__errs.push(e.message || ('failed to load ' + (e.target && e.target.src)));
}, true);
var _ce = console.error;
console.error = function () { window.__errs.push([].join.call(arguments, ' '));
  _ce.apply(console, arguments); };
window.addEventListener('load', function () {
  var imgs = [].slice.call(document.images);
  document.body.setAttribute('data-check', JSON.stringify({
    images: imgs.length,
    loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 100; }).length,
    errors: window.__errs}));
});
</script>"""


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    reason = "chromium not installed (Debian: apt-get install chromium; .ci/run installs it)"
    if IN_CI:
        pytest.fail(reason + " - CI must run this test", pytrace=False)
    pytest.skip(reason)


def _headless(chromium, *args):
    profile = tempfile.mkdtemp(prefix="callcue-chromium-")
    try:
        return subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             *args], capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def archive(tmp_path_factory, micropython):
    """An archive of three calls logged by the virtual dongle (two scenarios)."""
    folder = tmp_path_factory.mktemp("report")
    gap = np.zeros((32 * 8000, 2), np.int16)
    parts = []
    for scenario, seed in (("rep-interrupts", 1), ("flat-rep", 0), ("rep-interrupts", 3)):
        pcm, _ = synth.render(scenario, seed=seed, duration_s=25.0)
        parts += [pcm, gap]
    pcm = np.concatenate(parts)
    dongle = simulator.VirtualDongle(rep=pcm[:, 0], cust=pcm[:, 1], storage=folder / "flash",
                                     link=False)
    _, err = dongle.proc.communicate(b"", timeout=300)
    dongle.close()
    assert dongle.proc.returncode == 0, err.decode()[-2000:]
    with Archive(folder / "archive") as ar:
        for path in sorted((folder / "flash" / "logs").glob("s*.log")):
            ar.import_session(path.read_bytes())
        assert ar.counts()["sessions"] == 3
    return folder / "archive"


def test_report_renders_in_chromium(archive, tmp_path, callcue):
    chromium = _chromium()
    out = tmp_path / "report.html"
    r = callcue("report", "--archive", archive, "--out", out, "--pdf", tmp_path / "r.pdf")
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    # self-contained: three call timelines and one device trend, all embedded
    assert text.count('src="data:image/png;base64,') == 4
    assert not re.search(r'src="(?!data:)', text)
    assert (tmp_path / "r.pdf").stat().st_size > 1000

    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("<head>", "<head>" + _PROBE, 1))
    r = _headless(chromium, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    m = re.search(r'data-check="([^"]*)"', r.stdout)
    assert m, "the page did not finish loading: " + r.stderr[-2000:]
    check = json.loads(html.unescape(m.group(1)))
    assert check == {"images": 4, "loaded": 4, "errors": []}

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    r = _headless(chromium, "--hide-scrollbars", "--window-size=1200,2400",
                  f"--screenshot={shot}", out.as_uri())
    assert shot.is_file() and shot.stat().st_size > 20000, r.stderr[-2000:]
    # the plots are drawn, not blank: many distinct colours in the screenshot
    from matplotlib.image import imread

    img = imread(shot)[..., :3]
    colours = np.unique((img.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 50
    print("report screenshot:", shot)


def test_report_filters_and_errors(archive, tmp_path, callcue):
    out = tmp_path / "one.html"
    r = callcue("report", "--archive", archive, "--session", "cc-sim-0001:2", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "1 call(s)" in r.stdout and out.read_text().count("data:image/png") == 1
    for argv, word in ((("--since", "2999-01-01"), "no archived calls"),
                       (("--since", "yesterday"), "YYYY-MM-DD"),
                       (("--device", "nobody"), "no archived calls")):
        r = callcue("report", "--archive", archive, *argv, "--out", out)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert r.stderr.count("\n") == 1 and word in r.stderr
    assert os.path.exists(out)
    assert Path(out).stat().st_size > 0
