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
    """An archive of three calls logged by the virtual dongle (three scenarios)."""
    folder = tmp_path_factory.mktemp("report")
    gap = np.zeros((32 * 8000, 2), np.int16)
    parts = []
    for scenario, seed in (("rep-interrupts", 1), ("flat-rep", 0), ("customer-interrupts", 3)):
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


def test_report_talkovers_by_interrupter(archive):
    """The table's talk-over count and time by interrupter, and the timeline's spans (one
    per event, coloured by who interrupted, with a legend), come from the logged events."""
    from callcue import report

    seen = {"rep": 0, "customer": 0}
    with Archive(archive, create=False) as ar:
        sessions = ar.sessions()
        text = report.build(ar, sessions)
        for s in sessions:
            assert s["log_format"] == 2
            recs, events = ar.records(s["pk"]), ar.events(s["pk"])
            m = report.call_metrics(recs, events)
            # the per-second counts and the events agree
            assert m["talkovers"] == len(events) == m["talkovers_rep"] + m["talkovers_customer"]
            for i, who in enumerate(("rep", "customer")):
                mine = [e for e in events if e["interrupter"] == i]
                seen[who] += len(mine)
                assert m[f"talkover_{who}_s"] == sum(e["end_f"] - e["start_f"]
                                                     for e in mine) / 100
            row = "<td>%d / %d</td><td>%.1f / %.1f</td>" % (
                m["talkovers_rep"], m["talkovers_customer"], m["talkover_rep_s"],
                m["talkover_customer_s"])
            assert row in text
            fig = report.call_figure(recs, "call", events)
            ax = fig.axes[0]
            labels = ax.get_legend().get_texts()
            assert {"talk-over by rep", "talk-over by customer"} <= {
                t.get_text() for t in labels}
            for i, who in enumerate(("rep", "customer")):
                coll = next(c for c in ax.collections
                            if c.get_label() == f"talk-over by {who}")
                assert len(coll.get_paths()) == sum(e["interrupter"] == i for e in events)
                from matplotlib.colors import to_hex
                assert to_hex(coll.get_facecolor()[0]) == report.INTERRUPTER_COLOURS[who]
    assert seen["rep"] >= 1 and seen["customer"] >= 1
    assert "talk-overs by rep / cust" in text and "talk-over s by rep / cust" in text


def test_report_reads_a_format_1_log(archive, tmp_path):
    """A call logged by firmware before talk-over events (log format 1: no events, the
    per-second records only) still imports and reports: counts, "-" by interrupter,
    overlaps in one colour."""
    from callcue import report
    from callcue.firmware import sessionlog as sl

    from .test_sessionlog import v1_header

    with Archive(archive, create=False) as ar:
        raw = ar.db.execute("SELECT raw FROM sessions ORDER BY pk LIMIT 1").fetchone()[0]
    hdr, recs, events = sl.decode_log(raw)
    assert events
    body = b"".join(bytes(raw[o:o + 32]) for o in range(64, len(raw), 32) if raw[o + 25] == 0)
    old = v1_header(hdr["device_id"], "0.0.9", 1, hdr["start_time"], 77) + body
    with Archive(tmp_path / "old") as ar:
        pk, added = ar.import_session(old)
        assert added and ar.events(pk) == []
        s = ar.sessions()[0]
        assert s["log_format"] == 1 and s["n_records"] == len(recs)
        text = report.build(ar, [s])
        m = report.call_metrics(ar.records(pk))
        assert m["talkovers"] == len(events) and "talkovers_rep" not in m
        fig = report.call_figure(ar.records(pk), "old", None)
        labels = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
        assert "overlap" in labels and not any(x.startswith("talk-over") for x in labels)
    assert "<td>- / -</td><td>- / -</td>" in text
