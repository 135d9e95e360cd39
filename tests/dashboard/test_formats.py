"""Pure pieces of the dashboard and metrics: no database, no browser."""

from __future__ import annotations

import pytest

from hatchnb.dashboard.pages.runs import parse_metadata
from hatchnb.features import metrics


def test_histogram_buckets_are_cumulative_and_end_with_inf() -> None:
    hist = metrics.Histogram(bounds=(0.1, 1.0), counts=(2, 3, 4), total=9, sum_seconds=12.5)
    assert hist.cumulative() == [("0.1", 2), ("1.0", 5), ("+Inf", 9)]


def test_label_values_are_escaped() -> None:
    line = metrics._sample("hatchnb_queue_depth", {"workflow": 'a"b\\c\nd'}, 3)
    assert line == 'hatchnb_queue_depth{workflow="a\\"b\\\\c\\nd"} 3'


def test_metadata_filter_text() -> None:
    assert parse_metadata(" team=ml, env = prod ") == {"team": "ml", "env": "prod"}
    assert parse_metadata("") == {}
    with pytest.raises(ValueError, match="key=value"):
        parse_metadata("team")
