"""`callcue report` end to end: calls played through the virtual dongle (the real firmware
on the simulated board), their logs archived as a team's two days (five reps, a short
call, a lossy call, a call in two parts, a dongle whose session ids restarted), the
report written, then opened in headless Chromium (Debian `chromium`, installed by
.ci/run): every embedded plot must load, the page must log no errors, nothing may
overflow its container, no visible text may be under 11 px, the team table must be on
the first screen, and its columns must sort. Screenshots are kept
(build/test-artifacts/report.png and report-first-screen.png) to look at."""

import csv
import html
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from callcue.analysis.summary import call_metrics
from callcue.archive.store import Archive
from callcue.report import page, plots, team
from firmware.logformat import decode_log

from .. import synthlogs
from ..conftest import IN_CI, ROOT

ARTIFACTS = ROOT / "build" / "test-artifacts"
WINDOW = (1280, 800)          # a laptop's first screen

# Injected into a copy of the report: records script errors, console errors and failed
# resource loads; on `load` checks the layout (overflow, font sizes, the team table on
# the first screen), sorts the team table by a column both ways, and writes what it saw
# into <body data-check="...">.
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
  var W = document.documentElement.clientWidth, over = [], small = [];
  [].forEach.call(document.body.querySelectorAll('*'), function (el) {
    var r = el.getBoundingClientRect();
    if (!r.width || !el.parentElement) return;
    var p = el.parentElement.getBoundingClientRect();
    if (r.right > p.right + 1 || r.left < p.left - 1 || r.right > W)
      over.push(el.tagName + ': ' + (el.textContent || '').trim().slice(0, 50));
  });
  var walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), n;
  while ((n = walk.nextNode())) {
    var el = n.parentElement;
    if (!n.textContent.trim() || /SCRIPT|STYLE/.test(el.tagName)) continue;
    if (!el.getClientRects().length) continue;
    var px = parseFloat(getComputedStyle(el).fontSize);
    if (px < 11) small.push(px + 'px: ' + n.textContent.trim().slice(0, 50));
  }
  var team = document.querySelector('table.team');
  var ths = [].slice.call(team.tHead.rows[0].cells);
  var col = ths.findIndex(function (th) { return /^speaking rate/.test(th.textContent); });
  function order() {
    return [].map.call(team.tBodies[0].rows, function (r) {
      return r.cells[col].getAttribute('data-v'); });
  }
  ths[col].click(); var up = order();
  ths[col].click(); var down = order();
  document.body.setAttribute('data-check', JSON.stringify({
    images: imgs.length,
    loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 100; }).length,
    scale: Math.min.apply(null, imgs.map(function (i) {
      return i.clientWidth / i.naturalWidth; })),
    page_width: document.documentElement.scrollWidth, window_width: W,
    overflow: over.slice(0, 10), small: small.slice(0, 10),
    team_bottom: team.getBoundingClientRect().bottom, screen: window.innerHeight,
    sorted_up: up, sorted_down: down, errors: window.__errs}));
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
def played(tmp_path_factory, micropython):
    """The calls of synthlogs.TEAM_CALLS logged by the virtual dongle, with their truth."""
    return synthlogs.dongle_logs(tmp_path_factory.mktemp("played"))


@pytest.fixture(scope="module")
def archive(tmp_path_factory, played):
    """Those logs as team north's two days (synthlogs.team_archive)."""
    folder = tmp_path_factory.mktemp("report") / "archive"
    synthlogs.team_archive(folder, played)
    return folder


def _calls(archive):
    """{(device, session id, start): (records, events)} decoded from the raw logs."""
    with Archive(archive, create=False) as ar:
        return {(s["device_id"], s["session_id"], s["start_time"]):
                decode_log(ar.raw(s["pk"]))[1:] for s in ar.sessions()}


def test_report_renders_in_chromium(archive, tmp_path, callcue):
    chromium = _chromium()
    out = tmp_path / "report.html"
    r = callcue("report", "--archive", archive, "--out", out, "--pdf", tmp_path / "r.pdf")
    assert r.returncode == 0, r.stderr
    assert "11 call(s) of 5 rep(s)" in r.stdout
    text = out.read_text()
    # self-contained: eleven call timelines and team north's trends, all embedded
    assert text.count('src="data:image/png;base64,') == 12
    assert not re.search(r'(src|href)="(?!data:|#)', text)
    assert (tmp_path / "r.pdf").stat().st_size > 1000

    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("<head>", "<head>" + _PROBE, 1))
    r = _headless(chromium, "--virtual-time-budget=5000", "--window-size=%d,%d" % WINDOW,
                  "--dump-dom", probe.as_uri())
    m = re.search(r'data-check="([^"]*)"', r.stdout)
    assert m, "the page did not finish loading: " + r.stderr[-2000:]
    check = json.loads(html.unescape(m.group(1)))
    assert (check["images"], check["loaded"], check["errors"]) == (12, 12, [])
    assert check["overflow"] == [] and check["page_width"] <= check["window_width"], check
    assert check["small"] == [], check["small"]
    # the team table whole on the first screen
    assert check["team_bottom"] <= check["screen"], check
    # sorted by speaking rate: ascending, then descending (empty cells last both ways)
    up = [float(v) for v in check["sorted_up"] if v]
    down = [float(v) for v in check["sorted_down"] if v]
    assert up == sorted(up) and down == sorted(down, reverse=True) and len(up) >= 4
    # the plots' text at the page's width: at least 11 px too
    scale = check["scale"]
    assert 0.5 < scale <= 1.0, check
    with Archive(archive, create=False) as ar:
        s = ar.sessions()[0]
        figs = [plots.call_figure(ar.records(s["pk"]), "call", ar.events(s["pk"]))]
    rows = [(d, team.rollup([])) for d in ("2026-11-02", "2026-11-03")]
    import datetime as dt
    figs.append(plots.trend_figure("t", {"ana": [(dt.date.fromisoformat(d), r)
                                                 for d, r in rows]},
                                   dict.fromkeys(k for k, *_ in team.TEAM_FIGURES)))
    for fig in figs:
        fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
        sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_text")
                                                       and hasattr(a, "get_fontsize"))
                 if t.get_visible() and t.get_text().strip()]
        assert sizes and min(sizes) * plots.PLOT_DPI / 72 * scale >= 11, min(sizes)
        # the plots fill the page's width: drawn at most a little smaller than they are
        assert fig.get_figwidth() * plots.PLOT_DPI >= 1200

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, size in (("report.png", (WINDOW[0], 2400)), ("report-first-screen.png", WINDOW)):
        shot = ARTIFACTS / name
        shot.unlink(missing_ok=True)
        r = _headless(chromium, "--hide-scrollbars", "--window-size=%d,%d" % size,
                      f"--screenshot={shot}", out.as_uri())
        assert shot.is_file() and shot.stat().st_size > 20000, r.stderr[-2000:]
    # the plots are drawn, not blank: many distinct colours in the screenshot
    from matplotlib.image import imread

    img = imread(ARTIFACTS / "report.png")[..., :3]
    colours = np.unique((img.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 50
    print("report screenshots:", ARTIFACTS / "report.png", ARTIFACTS / "report-first-screen.png")


def test_team_table(archive, tmp_path, callcue):
    """One row per rep from the assignments (the unassigned dongle its own rep, shown as
    such), the team row over every call, the band, outliers marked, rates only over calls
    with enough talk, human units, the same rows as CSV."""
    out, team_csv, calls_csv = tmp_path / "r.html", tmp_path / "team.csv", tmp_path / "c.csv"
    r = callcue("report", "--archive", archive, "--out", out, "--team-csv", team_csv,
                "--csv", calls_csv)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(team_csv.open()))
    reps = {x["rep"]: x for x in rows if x["row"] == "rep"}
    assert list(reps) == ["Ana Silva", "Ben Okafor", "Cleo Marsh", "Dev Patel",
                          "device:cc-0009"]
    assert [reps[k]["calls"] for k in reps] == ["4", "2", "2", "2", "1"]
    assert [x["team"] for x in rows if x["row"] == "team"] == ["north", ""]

    # Ana's figures from her decoded logs: per hour only over calls with >= 60 s of talk
    decoded = _calls(archive)
    ana = [call_metrics(*v) for k, v in decoded.items() if k[0] == "cc-0001"]
    rated = [m for m in ana if m["talk_s"] >= team.MIN_TALK_S]
    assert len(rated) == 3 and min(m["talk_s"] for m in ana) < 10     # the short call
    hours = sum(m["talk_s"] for m in rated) / 3600
    assert float(reps["Ana Silva"]["talkovers_rep_per_talk_hour"]) == pytest.approx(
        sum(m["talkovers_rep"] for m in rated) / hours, abs=1e-3)
    assert reps["Ana Silva"]["rated_calls"] == "3" and reps["Ana Silva"]["short_calls"] == "1"
    rep_s = sum(m["rep_s"] for m in ana)
    assert float(reps["Ana Silva"]["talk_ratio"]) == pytest.approx(
        rep_s / (rep_s + sum(m["customer_s"] for m in ana)), abs=1e-4)
    gaps = [g for m in ana for g in m["responses_s"]]
    assert float(reps["Ana Silva"]["median_response_s"]) == pytest.approx(
        statistics.median(gaps), abs=1e-4)
    assert reps["Cleo Marsh"]["lossy_calls"] == "1"
    assert float(reps["Cleo Marsh"]["lost_audio_s"]) == synthlogs.LOST_FRAMES / 100
    # the band is the middle half of the team's four reps
    north = [reps[k] for k in ("Ana Silva", "Ben Okafor", "Cleo Marsh", "Dev Patel")]
    low = next(x for x in rows if x["row"] == "band_low" and x["team"] == "north")
    assert float(low["median_rate_sps"]) == pytest.approx(
        np.percentile([float(x["median_rate_sps"]) for x in north], 25), abs=1e-3)

    text = out.read_text()
    first = text[:text.index("<h2>Trends by date</h2>")]
    assert first.index('<table class="sortable team">') < first.index("<h2>Reps in no team")
    assert "dongle cc-0009 (no rep assigned)" in first and "Ana Silva" in first
    # outliers are marked by an arrow and bold shading, not by colour alone
    marked = re.findall(r'<td data-v="[^"]*" class="(hi|lo)" title="far (above|below) the '
                        r'team band[^"]*">([\u25B2\u25BC]) ', first)
    assert marked and all((c == "hi") == (a == "\u25B2") for c, _, a in marked)
    assert "3.2 s lost" in first and "1 short" in first
    # human units; never a device's -1 for "none"
    assert ">-1<" not in text and "-1.00" not in text and "%" in first
    assert re.search(r"<td data-v=\"\d+(\.\d+)?\">\d+:\d\d</td>", first)   # talk time m:ss

    calls = list(csv.DictReader(calls_csv.open()))
    assert len(calls) == 11 and {c["rep"] for c in calls} == set(reps)
    assert calls[-1]["mark"] == "not signed"


def test_calls_say_what_to_know(archive, tmp_path, callcue, played):
    """Per call: rep, local start, length m:ss, one plain sentence, and the data's flags
    (short, lossy, part of a longer call) beside its mark."""
    out = tmp_path / "r.html"
    r = callcue("report", "--archive", archive, "--out", out)
    assert r.returncode == 0, r.stderr
    text = html.unescape(out.read_text())
    when = "2026-11-02 09:00:00"
    assert re.search(r"<h3>Ana Silva, %s, \d:\d\d " % when, text)
    sentence = re.search(r'<section id="call-1">.*?<p class="sentence">([^<]*)</p>', text,
                         re.S).group(1)
    assert re.match(r"\d:\d\d call; the rep talked \d+ % of the time, started \d of \d "
                    r"talk-overs, spoke at \d\.\d syl/s and answered in \d\.\d s \(median\)\.$",
                    sentence), sentence
    assert re.search(r"0:\d\d call \(0:0\d of talk: too short for rates\)", text)
    assert "lossy: 3.2 s of audio lost (320 frames the capture dropped)" in text
    # Ben's day-2 call, which the dongle split in two, is one call
    assert "one call in 2 parts (sessions 2 and 3): the dongle split it" in text
    assert "cc-0002 sessions 2 and 3, archive rows" in text
    assert "short: 0:0" in text


def test_response_time_against_truth(played):
    """The response time estimated from per-second activity against the synthetic calls'
    exact turns: each call's median within 0.25 s of the truth's."""
    for raw, truth, _offset in played:
        _, recs, events = decode_log(raw)
        m = call_metrics(recs, events)
        rep, cust = truth["rep"]["intervals"], truth["customer"]["intervals"]
        starts = sorted([(a, "rep") for a, _ in rep] + [(a, "cust") for a, _ in cust])
        want = []
        for _, b in cust:
            if any(s < b < e for s, e in rep):
                continue                                   # the rep was speaking: no turn
            nxt = [(s, who) for s, who in starts if s >= b]
            if nxt and nxt[0][1] == "rep":
                want.append(nxt[0][0] - b)
        if len(want) < 3:
            continue                                       # the short call
        assert m["median_response_s"] == pytest.approx(statistics.median(want), abs=0.25), (
            truth["scenario"], m["responses_s"], want)


def test_report_filters_and_errors(archive, tmp_path, callcue):
    out = tmp_path / "one.html"
    r = callcue("report", "--archive", archive, "--session", "cc-0002:1", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "1 call(s)" in r.stdout and out.read_text().count("data:image/png") == 1
    # cc-0001's session ids restarted: session 1 names two calls; say which rows
    r = callcue("report", "--archive", archive, "--session", "cc-0001:1", "--out", out)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "names 2 archived calls" in r.stderr and "row 1 (2026-11-02 09:00:00)" in r.stderr
    row = re.search(r"--session (\d+)", r.stderr).group(1)
    # a call's later part alone: flagged as such
    r = callcue("report", "--archive", archive, "--session", "cc-0002:3", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "continues session 2, which is not in this report" in out.read_text()
    r = callcue("report", "--archive", archive, "--session", row, "--out", out)
    assert r.returncode == 0 and "1 call(s)" in r.stdout, r.stderr
    r = callcue("report", "--archive", archive, "--team", "north", "--since", "2026-11-03",
                "--out", out)
    assert r.returncode == 0 and "6 call(s) of 4 rep(s)" in r.stdout, r.stderr
    assert "team north, 2026-11-03 to now" in out.read_text()
    for argv, word in ((("--since", "2999-01-01"), "no archived calls"),
                       (("--since", "yesterday"), "YYYY-MM-DD"),
                       (("--team", "nobody"), "no archived calls"),
                       (("--device", "nobody"), "no archived calls")):
        r = callcue("report", "--archive", archive, *argv, "--out", out)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert r.stderr.count("\n") == 1 and word in r.stderr
    assert os.path.exists(out)
    assert Path(out).stat().st_size > 0


def test_summary_in_human_units(archive, tmp_path, callcue):
    out, out_csv = tmp_path / "s.html", tmp_path / "s.csv"
    r = callcue("report", "--archive", archive, "--summary", "--out", out, "--csv", out_csv)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "dongle cc-0009 (no rep assigned)" in text and ">-<" not in text
    assert re.search(r">\d+ %</td>", text) and re.search(r">\d+:\d\d(:\d\d)?</td>", text)
    assert "talk-over cues / h" in text and "lossy calls" in text
    rows = list(csv.DictReader(out_csv.open()))
    assert 0 < float(rows[0]["talk_ratio"]) < 1        # the CSV keeps machine units


def test_report_talkovers_by_interrupter(archive):
    """The calls table's talk-overs by interrupter, and the timeline's spans (one per
    event, coloured by who interrupted, with a legend), come from the logged events."""
    seen = {"rep": 0, "customer": 0}
    with Archive(archive, create=False) as ar:
        sessions = ar.sessions()
        text = page.build(ar, sessions)
        for s in sessions:
            assert s["log_format"] == 2
            recs, events = ar.records(s["pk"]), ar.events(s["pk"])
            m = call_metrics(recs, events)
            # the per-second counts and the events agree
            assert m["talkovers"] == len(events) == m["talkovers_rep"] + m["talkovers_customer"]
            for i, who in enumerate(("rep", "customer")):
                mine = [e for e in events if e["interrupter"] == i]
                seen[who] += len(mine)
                assert m[f"talkover_{who}_s"] == sum(e["end_f"] - e["start_f"]
                                                     for e in mine) / 100
            assert '<td data-v="%d">%d / %d</td>' % (
                m["talkovers"], m["talkovers_rep"], m["talkovers_customer"]) in text
            if not events:
                continue
            fig = plots.call_figure(recs, "call", events)
            ax = fig.axes[0]
            labels = ax.get_legend().get_texts()
            assert {"talk-over by rep", "talk-over by customer"} <= {
                t.get_text() for t in labels}
            for i, who in enumerate(("rep", "customer")):
                coll = next(c for c in ax.collections
                            if c.get_label() == f"talk-over by {who}")
                assert len(coll.get_paths()) == sum(e["interrupter"] == i for e in events)
                from matplotlib.colors import to_hex
                assert to_hex(coll.get_facecolor()[0]) == plots.INTERRUPTER_COLOURS[who]
    assert seen["rep"] >= 1 and seen["customer"] >= 1
    assert "talk-overs by rep / customer" in text


def test_report_reads_a_format_1_log(archive, tmp_path):
    """A call logged by firmware before talk-over events (log format 1: no events, the
    per-second records only) still imports and reports: counts, by whom left empty,
    overlaps in one colour. Its dongle's clock was not set: the report says so."""
    from firmware import logformat as sl

    from ..firmware.test_sessionlog import v1_header

    with Archive(archive, create=False) as ar:
        raw = ar.raw(1)
    hdr, recs, events = sl.decode_log(raw)
    assert events
    body = b"".join(bytes(raw[o:o + 32]) for o in range(64, len(raw), 32) if raw[o + 25] == 0)
    old = v1_header(hdr["device_id"], "0.0.9", 1, 0, 77) + body
    with Archive(tmp_path / "old") as ar:
        pk, added = ar.import_session(old)
        assert added and ar.events(pk) == []
        s = ar.sessions()[0]
        assert s["log_format"] == 1 and s["n_records"] == len(recs)
        text = page.build(ar, [s])
        m = call_metrics(ar.records(pk))
        assert m["talkovers"] == len(events) and "talkovers_rep" not in m
        fig = plots.call_figure(ar.records(pk), "old", None)
        labels = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
        assert "overlap" in labels and not any(x.startswith("talk-over") for x in labels)
    assert "%d (by whom not logged)" % len(events) in text
    assert "clock not set: start time unknown" in text
    assert "who started them is not logged" in text
