"""The shared DAG view: layout, colours and the patches it sends (no browser, no kernel)."""

from __future__ import annotations

import json
import threading
from typing import Any

import bokeh.embed
import pytest
from bokeh.document import Document

from hatchnb.widgets.dag import STATUS_COLORS, DagView, layered_layout
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


def test_all_statuses_have_colours() -> None:
    assert set(STATUS_COLORS) == {
        "PENDING",
        "WAITING",
        "QUEUED",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
        "SKIPPED",
    }


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
