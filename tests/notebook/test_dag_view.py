"""The DAG views: shared layout and colours, the Bokeh patches the dashboard gets and the SVG
the notebook widget shows (no browser, no kernel)."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import bokeh.embed
import pytest
from bokeh.document import Document

from hatchnb.records import RunStatus
from hatchnb.widgets.dag import STATUS_COLORS, DagState, DagView, layered_layout
from hatchnb.widgets.dag_svg import DagWidget, render_svg
from hatchnb.widgets.layout import crossings

ETL = {
    "extract": [],
    "clean": ["extract"],
    "validate": ["extract"],
    "join": ["clean", "validate"],
    "report": ["join"],
    "archive": ["extract"],
}


def test_layout_puts_parents_above_children_without_crossings() -> None:
    pos = layered_layout(ETL)
    for child, parents in ETL.items():
        for parent in parents:
            assert pos[parent][1] > pos[child][1]
    assert crossings(ETL, pos) == 0


def test_barycentre_ordering_removes_crossings() -> None:
    scrambled = {"a": [], "b": [], "c": [], "x": ["c"], "y": ["b"], "z": ["a"]}
    pos = layered_layout(scrambled)
    assert crossings(scrambled, pos) == 0


def test_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        layered_layout({"a": ["b"], "b": ["a"]})


def test_every_run_status_has_its_own_colour() -> None:
    for status in RunStatus:
        assert status.value in STATUS_COLORS, f"{status} has no colour"
    assert set(STATUS_COLORS) == {s.value for s in RunStatus}  # no colour for a gone status
    assert len(set(STATUS_COLORS.values())) == len(STATUS_COLORS)  # tell them apart
    assert STATUS_COLORS["BLOCKED"] != "#ffffff"


def test_set_status_patches_only_changed_cells() -> None:
    view = DagView(ETL)
    doc = Document()
    doc.add_root(view.figure)
    events: list[Any] = []
    doc.on_change(events.append)
    view.set_status({"clean": "RUNNING", "extract": "PENDING"})
    assert len(events) == 1
    assert type(events[0]).__name__ == "ColumnsPatchedEvent"
    assert events[0].patches == {
        "status": [(1, "RUNNING")],
        "color": [(1, STATUS_COLORS["RUNNING"])],
    }
    view.set_status({"clean": "RUNNING"})  # nothing changed: nothing sent
    assert len(events) == 1
    view.set_status({"join": "SUCCEEDED"}, {"join": {"duration": "1.50s", "note": "x"}})
    assert view.nodes.data["duration"][3] == "1.50s"
    assert view.nodes.data["extra"][3] == "note: x"
    assert STATUS_COLORS["SUCCEEDED"] in json.dumps(bokeh.embed.json_item(view.figure))


def test_set_status_from_threads() -> None:
    view = DagView(ETL, name="custom")
    assert view.nodes.name == "custom"
    threads = [threading.Thread(target=view.set_status, args=({n: "SUCCEEDED"},)) for n in ETL]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(view.nodes.data["status"]) == {"SUCCEEDED"}
    assert view.statuses() == dict.fromkeys(ETL, "SUCCEEDED")


def test_panel_pane_wraps_the_figure() -> None:
    view = DagView({"a": [], "b": ["a"]})
    pane = view.panel()
    assert pane.object is view.figure
    assert view.panel() is pane


def test_from_run_colours_the_nodes(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="dagview")

    @wf.task()
    def first(input: Any, ctx: Any) -> dict[str, int]:
        return {"n": 1}

    @wf.task(parents=[first])
    def second(input: Any, ctx: Any) -> dict[str, int]:
        return {"n": 2}

    start_worker(wf)
    ref = wf.run(wait_for_result=False)
    ref.result(timeout=30)
    view = DagView.from_run(hatchet, ref.workflow_run_id)
    assert view.parents == {"first": [], "second": ["first"]}
    assert view.nodes.data["status"] == ["SUCCEEDED", "SUCCEEDED"]
    assert view.nodes.data["duration"][0].endswith("s")
    assert DagView.from_workflow(wf).parents == view.parents
    widget = DagWidget.from_run(hatchet, ref.workflow_run_id)
    assert widget.statuses() == {"first": "SUCCEEDED", "second": "SUCCEEDED"}
    assert "duration: " in _nodes(widget.widget.value)["second"]["title"]
    assert DagWidget.from_workflow(wf).parents == view.parents


def _nodes(svg: str) -> dict[str, dict[str, Any]]:
    """``{task: {status, fill, y, title}}`` read back from the SVG."""
    found = {}
    pattern = (
        r'<g class="hatchnb-node" data-task="([^"]*)" data-status="([^"]*)">'
        r'<title>([^<]*)</title><rect x="[^"]*" y="([^"]*)"[^>]* fill="([^"]*)"'
    )
    for task, status, title, y, fill in re.findall(pattern, svg):
        found[task] = {"status": status, "title": title, "y": float(y), "fill": fill}
    return found


def test_svg_draws_the_shared_layout_and_colours() -> None:
    state = DagState(ETL)
    state.update({"clean": "RUNNING", "join": "BLOCKED"})
    nodes = _nodes(render_svg(state))
    assert list(nodes) == list(ETL)
    assert nodes["clean"]["fill"] == STATUS_COLORS["RUNNING"]
    assert nodes["join"]["fill"] == STATUS_COLORS["BLOCKED"]
    assert nodes["extract"]["fill"] == STATUS_COLORS["PENDING"]
    for child, parents in ETL.items():  # same layers as the Bokeh view: parents above
        for parent in parents:
            assert nodes[parent]["y"] < nodes[child]["y"]
    assert render_svg(state).count("<line ") == sum(len(ps) for ps in ETL.values())


def test_svg_hover_shows_timings_and_escapes_names() -> None:
    state = DagState({"a<b": [], 'say "hi" & go': ["a<b"]})
    state.update(
        {"a<b": "SUCCEEDED"},
        {"a<b": {"started": "12:00:01", "duration": "1.50s", "attempt": "1", "note": "x"}},
    )
    svg = render_svg(state)
    assert "a<b" not in svg and 'say "hi"' not in svg  # names are escaped
    title = _nodes(svg)["a&lt;b"]["title"]
    assert title.splitlines() == [
        "a&lt;b",
        "status: SUCCEEDED",
        "started: 12:00:01",
        "duration: 1.50s",
        "attempt: 1",
        "note: x",
    ]
    assert 'data-task="say &quot;hi&quot; &amp; go"' in svg


def test_widget_sends_the_svg_only_when_something_changed() -> None:
    view = DagWidget(ETL)
    sent: list[str] = []
    view.widget.observe(lambda change: sent.append(change["new"]), "value")
    assert view.set_status({"clean": "RUNNING", "extract": "PENDING"})
    assert not view.set_status({"clean": "RUNNING"})
    assert len(sent) == 1
    assert _nodes(sent[0])["clean"]["fill"] == STATUS_COLORS["RUNNING"]
    assert view.statuses()["clean"] == "RUNNING"


def test_widget_from_threads_ends_with_the_latest_drawing() -> None:
    view = DagWidget(ETL)
    threads = [threading.Thread(target=view.set_status, args=({n: "SUCCEEDED"},)) for n in ETL]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {n["status"] for n in _nodes(view.widget.value).values()} == {"SUCCEEDED"}
    assert view.statuses() == dict.fromkeys(ETL, "SUCCEEDED")
