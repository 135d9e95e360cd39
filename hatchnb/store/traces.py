"""Traces: the spans HatchetInstrumentor's collector stores, and the runs a trace covers.
Statements in ``sql/traces.sql``."""

from __future__ import annotations

from typing import Any

from hatchnb.store.db import Row, Store, jsonb


class TracesRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def insert(self, spans: list[dict[str, Any]]) -> None:
        """Store exported spans (one statement for the batch)."""
        self._db.execute("insert_spans", spans=jsonb(spans))

    def spans(self, trace_id: str) -> list[Row]:
        return self._db.fetch_all("spans_of_trace", trace_id=trace_id)

    def runs(self, run_id: str) -> list[Row]:
        """The run and its descendant runs, each with its task runs and what started it."""
        return self._db.fetch_all("runs_of_trace", run_id=run_id)
