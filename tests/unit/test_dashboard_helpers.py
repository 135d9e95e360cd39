"""The dashboard's pure helpers: filters typed by users, cells and badges (escaped), and the
DAG layout the widgets draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hatchnb import notebook_tasks
from hatchnb.dashboard import common
from hatchnb.dashboard.pages.events import parse_json
from hatchnb.dashboard.pages.runs import COUNT_CAP, parse_metadata, total_label
from hatchnb.records import TraceSpan
from hatchnb.widgets.dag import STATUS_COLORS
from hatchnb.widgets.layout import crossings, layered_layout, topological_order


def test_metadata_filter_trims_and_skips_empty_pieces() -> None:
    assert parse_metadata(" team = ml ,, env=prod ,") == {"team": "ml", "env": "prod"}


def test_metadata_values_may_hold_equals_signs() -> None:
    assert parse_metadata("q=a=b") == {"q": "a=b"}


def test_metadata_filter_needs_a_key() -> None:
    with pytest.raises(ValueError, match="'=ml': write metadata filters as key=value"):
        parse_metadata("=ml")


def test_counts_over_the_cap_are_shown_as_a_floor() -> None:
    assert total_label(COUNT_CAP) == str(COUNT_CAP)
    assert total_label(COUNT_CAP + 1) == "10,000+"


def test_event_json_must_be_an_object() -> None:
    assert parse_json("  ", "payload") == {}
    assert parse_json('{"a": 1}', "payload") == {"a": 1}
    with pytest.raises(ValueError, match="payload must be a JSON object"):
        parse_json("[1]", "payload")


def test_times_and_durations() -> None:
    start = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert common.when(start) == "2026-01-01 12:00:00"
    assert common.when(None) == ""
    assert common.seconds(start, start + timedelta(milliseconds=1500)) == "1.500"
    assert common.seconds(start, None) == ""


def test_badges_escape_their_text() -> None:
    badge = common.badge("<b>", 3)
    assert "&lt;b&gt; 3" in badge and "<b>" not in badge.split(">", 1)[1]


def test_known_statuses_have_their_colour() -> None:
    assert STATUS_COLORS["FAILED"] in common.badge("FAILED")


def test_run_links_escape_the_id() -> None:
    assert common.run_link('x"><script>') == (
        '<a href="?page=run&id=x%22%3E%3Cscript%3E">x&quot;&gt;&lt;script&gt;</a>'
    )


def test_workflow_links_quote_the_name_in_the_url_and_escape_it_in_the_text() -> None:
    assert common.workflow_link("a&b <i>") == (
        '<a href="?page=workflows&amp;name=a%26b%20%3Ci%3E">a&amp;b &lt;i&gt;</a>'
    )


def test_choice_labels_are_escaped_and_map_to_the_name() -> None:
    assert common.html_choices(["<img src=x>", "etl"]) == {
        "&lt;img src=x&gt;": "<img src=x>",
        "etl": "etl",
    }


def test_notebook_frames_are_sandboxed_with_a_policy_at_the_top_of_the_head() -> None:
    frame = notebook_tasks.notebook_frame("<html><head><title>t</title></head></html>", 300)
    assert frame.startswith('<iframe sandbox="" ')
    policy = "Content-Security-Policy&quot; content=&quot;default-src &#x27;none&#x27;;"
    assert f"&lt;head&gt;&lt;meta http-equiv=&quot;{policy}" in frame
    assert "height:300px" in frame


def test_a_notebook_page_without_a_head_gets_its_policy_first() -> None:
    frame = notebook_tasks.notebook_frame("<p>hi</p>", 300)
    assert 'srcdoc="&lt;meta http-equiv=&quot;Content-Security-Policy' in frame


def test_messages_are_escaped_and_coloured() -> None:
    assert common.message("<oops>", "error") == '<span style="color:#b00020">&lt;oops&gt;</span>'


def test_frames_keep_the_columns_in_order() -> None:
    frame = common.frame([{"b": 2, "a": 1, "c": 3}], ["a", "b"])
    assert list(frame.columns) == ["a", "b"] and frame.iloc[0].tolist() == [1, 2]


def test_topological_order_puts_parents_first() -> None:
    order = topological_order({"c": ["a", "b"], "b": ["a"], "a": []})
    assert order.index("a") < order.index("b") < order.index("c")


def test_a_cyclic_graph_cannot_be_laid_out() -> None:
    with pytest.raises(ValueError, match="cycle"):
        topological_order({"a": ["b"], "b": ["a"]})


def test_layers_are_centred_with_roots_on_top() -> None:
    positions = layered_layout({"a": [], "b": ["a"], "c": ["a"]})
    assert positions["a"] == (0.5, 0)
    assert {positions["b"], positions["c"]} == {(0.0, -1.0), (1.0, -1.0)}


def test_unknown_parents_are_ignored_by_the_layout() -> None:
    assert layered_layout({"a": ["elsewhere"]}) == {"a": (0.0, 0)}


def test_the_layout_removes_an_avoidable_crossing() -> None:
    parents = {"a": [], "b": [], "x": ["b"], "y": ["a"]}
    assert crossings(parents, layered_layout(parents)) == 0


def test_websocket_origins_add_configured_names_with_or_without_scheme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hatchnb.dashboard import serve

    monkeypatch.setenv(serve.ORIGINS_ENV, "https://dash.example.com, dash2.example.com:8443/")
    origins = serve.websocket_origins("127.0.0.1", 8765)
    assert origins == [
        "127.0.0.1:8765",
        "localhost:8765",
        "dash.example.com",
        "dash2.example.com:8443",
    ]


def test_the_run_header_shows_the_trace_id_of_a_traced_run() -> None:
    from hatchnb.dashboard.pages.run_detail import _trace

    traced = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    assert "0af7651916cd43dd8448eb211c80319c" in _trace(traced)
    assert _trace({}) == "" and _trace({"traceparent": "<script>"}) == ""


def _span(span_id: str, parent: str | None, name: str, scope: str, status: str = "OK") -> TraceSpan:
    return TraceSpan(
        trace_id="t" * 32,
        span_id=span_id,
        parent_span_id=parent,
        span_name=name,
        span_kind="INTERNAL",
        service_name="svc",
        status_code=status,
        status_message=None,
        duration_ns=2_500_000,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        resource_attributes={},
        span_attributes={"secret": "payload"},
        scope_name=scope,
        scope_version=None,
    )


def test_the_run_page_draws_a_traced_runs_spans_as_a_tree() -> None:
    from hatchnb.dashboard.pages.run_detail import spans_html
    from hatchnb.features.traces import ENGINE_SCOPE

    engine = _span("a", "outside", "hatchet.engine.workflow_run", ENGINE_SCOPE)
    assert spans_html([engine]) == ""  # no process stored spans: not traced here
    step = _span("b", "outside", "hatchet.start_step_run", "hatchnb", status="ERROR")
    child = _span("c", "b", "<script>x</script>", "user")
    text = spans_html([engine, step, child])
    assert text.index("hatchet.start_step_run") < text.index("&lt;script&gt;")
    assert "margin-left:1.2em'><code>&lt;script&gt;x&lt;/script&gt;" in text  # under its parent
    assert "2.5 ms · <b>error</b>" in text and "payload" not in text
