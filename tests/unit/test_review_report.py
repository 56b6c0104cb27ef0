"""The incident report as HTML: what a supervisor reads in it, and that it stands alone (no request out)."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from app.domain.picture import Viewer
from app.review.replay import Replay, ReviewError
from app.review.report import incident_report_html
from tests.review_log import write_morning


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_morning(tmp_path_factory.mktemp("report") / "morning.db")


def section_after(doc: lxml.html.HtmlElement, heading: str) -> lxml.html.HtmlElement:
    h2 = next(h for h in doc.iter("h2") if h.text_content().startswith(heading))
    return h2.getnext()


def external_references(html: str) -> list[str]:
    """Every attribute or style that would make a browser fetch something from outside the document."""
    doc = lxml.html.fromstring(html)
    found = []
    for element in doc.iter():
        for name, value in element.attrib.items():
            if name in ("src", "href", "xlink:href", "srcset", "data", "poster", "action") and not \
                    value.startswith(("#", "data:")):
                found.append(f"{element.tag} {name}={value}")
            if name == "style" and "url(" in value:
                found.append(f"{element.tag} style={value}")
    found += [f"<{e.tag}>" for e in doc.iter("script", "link", "iframe", "object", "embed", "img")]
    found += ["style url( in <style>" for s in doc.iter("style") if "url(" in (s.text or "")]
    return found


def test_the_report_tells_the_story_of_the_call(morning: Path) -> None:
    with Replay(morning) as replay:
        html = incident_report_html(replay, "1004")
        events = replay.incident_events("1004")
    doc = lxml.html.fromstring(html)
    assert doc.findtext(".//title") == "Incident 1004 — Cardiac arrest"
    facts = {th.text_content(): th.getnext().text_content() for th in doc.iterfind(".//table[@class='facts']//th")}
    assert facts["Address"] == "Kaisaniemenkatu 3" and facts["Owner"] == "Emergency Medical Services"
    assert facts["Agencies"] == "Emergency Medical Services, Fire & Rescue" and facts["Status"] == "on scene"
    assert facts["Call taken by"] == "medical1" and facts["Created"] == "2024-05-01 09:06:40"
    times = [[td.text_content() for td in tr.iterfind("td")] for tr in section_after(doc, "Response times")
             .iterfind(".//tr")][1:]
    assert [(row[0].split("call")[0].split("first")[0], row[1], row[3]) for row in times] == [
        ("Call processing", "0:30", "met"), ("Turnout", "1:00", "met"), ("Travel", "2:30", "—"),
        ("Total response", "4:10", "—")]
    units = [[td.text_content() for td in tr.iterfind("td")] for tr in section_after(doc, "Units").iterfind(".//tr")]
    assert units[1][:5] == ["M1", "medical", "09:07:10", "09:08:00", "09:11:40"]
    assert units[2][:5] == ["E1", "fire", "09:07:20", "09:08:20", "09:10:50"]
    timeline = section_after(doc, "Timeline").iterfind(".//tr")
    rows = [[td.text_content() for td in tr.iterfind("td")] for tr in timeline][1:]
    assert len(rows) == len(events) and rows[2] == ["09:07:00", "fire1", "Mutual aid AR-1 ACCEPTED: E1 coming"]
    svg = doc.find(".//figure/svg")
    assert svg is not None and len(svg.findall(".//path")) > 50  # streets, buildings and the tracks
    labels = [t.text for t in svg.iter("text")]
    assert {"1004", "E1", "M1", "© OpenStreetMap contributors"} <= set(labels)


def test_markup_typed_into_a_note_is_shown_not_run(morning: Path) -> None:
    with Replay(morning) as replay:
        html = incident_report_html(replay, "1004")
    doc = lxml.html.fromstring(html)
    notes = section_after(doc, "Notes").text_content()
    assert "ROSC at 09:12 <script>alert(1)</script><img src=\"http://tracker.example/x.png\">" in notes
    assert "<b>now</b>" in section_after(doc, "Messages").text_content()
    assert external_references(html) == []


def test_the_checker_would_catch_an_outside_reference() -> None:
    assert external_references("<html><body><img src='https://cdn.example/x.png'></body></html>")
    assert external_references("<html><head><link href='//cdn.example/a.css'></head></html>")


def test_restricted_calls_are_reported_only_to_their_agency(morning: Path) -> None:
    with Replay(morning, viewer=Viewer("police")) as replay:
        assert "Plain clothes only" in incident_report_html(replay, "1005")
    with Replay(morning, viewer=Viewer("fire")) as replay, pytest.raises(ReviewError, match="no incident 1005"):
        incident_report_html(replay, "1005")
    with Replay(morning) as replay, pytest.raises(ReviewError, match="no incident 9999"):
        incident_report_html(replay, "9999")
