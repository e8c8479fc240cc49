"""The one call summary (callcue.analysis.summary): analyze, report and sim --pull all
take their figures from call_metrics over per-second records and talk-over events."""

import pytest

from callcue.analysis import analyze, synth
from callcue.analysis.summary import call_metrics, records_from_analysis, summary_lines


@pytest.fixture(scope="module")
def analysis():
    pcm, _truth = synth.render("rep-interrupts", 3, 20.0)
    return analyze.analyze_pcm(pcm[:, 0], pcm[:, 1])


def test_an_analysis_summarised_from_its_records_agrees_with_its_totals(analysis):
    recs, events = records_from_analysis(analysis)
    m = call_metrics(recs, events)
    talk = analysis["talk"]
    assert m["seconds"] == len(analysis["seconds"]) == 20
    # the records hold whole seconds of the same frames the totals count
    assert m["rep_s"] == pytest.approx(talk["rep_s"], abs=1.0)
    assert m["customer_s"] == pytest.approx(talk["customer_s"], abs=1.0)
    assert m["overlap_s"] == pytest.approx(talk["overlap_s"], abs=1.0)
    # engine records carry no talk-over counter: the events are the count, by who started
    assert m["talkovers"] == len(analysis["talkover_events"]) >= 1
    started = [e["interrupter"] for e in analysis["talkover_events"]]
    assert (m["talkovers_rep"], m["talkovers_customer"]) == (started.count("rep"),
                                                             started.count("customer"))
    assert m["lost_frames"] == 0 and m["missing_s"] == 0


def test_analyze_prints_the_shared_lines(analysis):
    m = call_metrics(*records_from_analysis(analysis))
    shared = summary_lines(m)
    lines = analyze.summary(analysis, "c.wav")
    assert lines[1:1 + len(shared)] == shared
    assert lines[0].startswith("c.wav: 20.00 s analysed")
    assert lines[-1].startswith("whole call")


def test_no_records():
    assert summary_lines(call_metrics([], [])) == ["no per-second records"]
