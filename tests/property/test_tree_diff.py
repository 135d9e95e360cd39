"""Properties of runs.diff's JSON tree diff: applying the changes it lists to the old value
gives the new one, and equal values give no change (no database)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hatchnb.tree_diff import Change, diff_json

LEAVES = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4)
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


def _apply(value: Any, changes: list[Change]) -> Any:
    result = copy.deepcopy(value)
    # removed list items are the tail of their list: drop them from the end
    ordered = [c for c in changes if c.kind != "removed"] + sorted(
        (c for c in changes if c.kind == "removed"), key=lambda c: c.path, reverse=True
    )
    for change in ordered:
        if not change.path:
            result = change.new
            continue
        *head, last = change.path
        target = result
        for part in head:
            target = target[part]
        if change.kind == "removed":
            del target[last]
        elif isinstance(target, list) and last == len(target):
            target.append(change.new)
        else:
            target[last] = change.new
    return result


@settings(max_examples=300, deadline=None)
@given(JSON, JSON)
def test_applying_the_changes_gives_the_new_value(old: Any, new: Any) -> None:
    assume(len(json.dumps(old)) < 250 and len(json.dumps(new)) < 250)  # nothing shortened
    diff = diff_json(old, new)
    assert not diff.truncated
    assert json.dumps(_apply(old, diff.changes), sort_keys=True) == json.dumps(new, sort_keys=True)
    assert diff.same == (json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True))


@settings(max_examples=100, deadline=None)
@given(JSON)
def test_a_value_against_itself_has_no_change(value: Any) -> None:
    assert diff_json(value, copy.deepcopy(value)).same
