"""Payload rules: what is JSON, NUL characters, size limits, signatures, code hashes and the
hand-built ``insert_runs`` rows."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import BaseModel

from hatchnb import EmptyModel, errors, serialization


class Order(BaseModel):
    id: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_no_input_is_an_empty_object() -> None:
    assert serialization.dump_input(None, dict, 100) == "{}"


def test_a_plain_dict_input_is_not_revalidated() -> None:
    assert json.loads(serialization.dump_input({"a": [1]}, EmptyModel, 100)) == {"a": [1]}


def test_a_model_instance_is_encoded_by_its_validator() -> None:
    assert serialization.dump_input(Order(id=4), Order, 100) == '{"id":4}'


def test_an_input_that_is_not_json_says_which_types_to_pass() -> None:
    with pytest.raises(errors.InvalidInput, match="the input is not JSON-serializable"):
        serialization.dump_input({"when": object()}, dict, 1000)


def test_nan_is_not_json() -> None:
    with pytest.raises(errors.InvalidInput, match="finite float"):
        serialization.dump_json(float("nan"), "event payload", 1000)


def test_a_nul_in_an_input_says_how_to_encode_binary() -> None:
    with pytest.raises(errors.InvalidInput, match=r"NUL character.*base64"):
        serialization.dump_input({"s": "a\x00b"}, dict, 1000)


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    text = serialization.dump_json({"s": "\\u0000"}, "payload", 1000)
    assert json.loads(text) == {"s": "\\u0000"}


def test_an_oversized_payload_names_its_size_and_setting() -> None:
    with pytest.raises(errors.PayloadTooLarge, match=r"the event payload is 12 bytes, over the 10"):
        serialization.dump_json("x" * 10, "event payload", 10)


class Note(BaseModel):
    s: str


def test_the_size_limit_counts_utf8_bytes_not_characters() -> None:
    # pydantic writes non-ASCII as UTF-8: '{"s":"éé"}' is 10 characters, 12 bytes
    assert serialization.dump_input({"s": "éé"}, Note, 12) == '{"s":"éé"}'
    with pytest.raises(errors.PayloadTooLarge, match="the input is 12 bytes, over the 11-byte"):
        serialization.dump_input({"s": "éé"}, Note, 11)


@pytest.mark.parametrize("meta", [None, {}])
def test_no_metadata_is_an_empty_object(meta: Any) -> None:
    assert serialization.dump_metadata(meta) == "{}"


def test_metadata_must_be_a_dict() -> None:
    with pytest.raises(errors.InvalidInput, match=r"e\.g\. \{'team': 'ml'\}"):
        serialization.dump_metadata(["team"])


@pytest.mark.parametrize("value", ["", None, 3])
def test_text_must_be_a_non_empty_string(value: Any) -> None:
    with pytest.raises(errors.InvalidWorkflow, match="pass a non-empty string"):
        serialization.check_text(value, "key", errors.InvalidWorkflow)


def test_a_stored_input_that_does_not_validate_fails_without_retries() -> None:
    with pytest.raises(errors.InvalidInput, match="does not match Order; it was not checked"):
        serialization.load_input({"id": "x"}, Order)


def test_a_stored_input_is_validated_into_the_model() -> None:
    assert serialization.load_input({"id": "5"}, Order) == Order(id=5)
    assert serialization.load_input({"any": 1}, dict) == {"any": 1}


def test_dataclass_outputs_are_json() -> None:
    assert serialization.dump_output(Point(1, 2), 100, 100) == ('{"x": 1, "y": 2}', None)


def test_a_string_output_with_nul_is_pickled_with_a_clean_preview() -> None:
    preview, blob = serialization.dump_output("a\x00b", 100, 1000)
    assert blob is not None and "\\u0000" not in preview
    assert json.loads(preview) == {"$pickled": "str", "repr": "'a\\x00b'"}
    assert serialization.load_output(None, blob) == "a\x00b"


def test_a_large_pickled_output_names_the_blob_setting() -> None:
    with pytest.raises(errors.PayloadTooLarge, match="HATCHNB_MAX_BLOB_BYTES"):
        serialization.dump_output({1, 2, 3}, 100, 10)


def test_a_json_output_is_returned_as_stored() -> None:
    assert serialization.load_output({"a": 1}, None, key="k") == {"a": 1}


def test_a_blob_that_is_not_code_is_refused() -> None:
    import cloudpickle

    with pytest.raises(errors.IncompatibleCode, match="version 2 holds no task code"):
        serialization.load_code(cloudpickle.dumps([1]), serialization.PYTHON_VERSION, 2)
    with pytest.raises(errors.IncompatibleCode, match="cannot be loaded on this worker"):
        serialization.load_code(b"not a pickle", serialization.PYTHON_VERSION, 2)


def test_the_content_hash_ignores_key_order_but_not_values() -> None:
    one = serialization.content_hash(b"c", {"a": 1, "b": 2})
    assert one == serialization.content_hash(b"c", {"b": 2, "a": 1})
    assert one != serialization.content_hash(b"c", {"a": 1, "b": 3})
    assert one != serialization.content_hash(b"d", {"a": 1, "b": 2})


def test_an_insert_runs_row_is_json() -> None:
    row = serialization.run_row(
        "r1", 0, '{"n":1}', {"team": "ml"}, 2, child_key='k"1', trigger={"event_id": "e"}
    )
    assert json.loads(row) == {
        "id": "r1",
        "ord": 0,
        "priority": 2,
        "parent": None,
        "child_key": 'k"1',
        "meta": {"team": "ml"},
        "input": {"n": 1},
        "event_id": "e",
    }
