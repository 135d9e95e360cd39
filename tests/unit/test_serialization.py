"""Inputs, outputs and code pickling without a database."""

from __future__ import annotations

import dataclasses
import json
import socket
import sys

import pytest
from pydantic import BaseModel

from hatchnb import errors, serialization
from hatchnb.types import EmptyModel


class In(BaseModel):
    n: int


@dataclasses.dataclass
class DC:
    a: str


def test_inputs_are_validated_and_encoded() -> None:
    assert json.loads(serialization.dump_input({"n": "3"}, In, 1000)) == {"n": 3}
    assert json.loads(serialization.dump_input(DC("x"), DC, 1000)) == {"a": "x"}
    assert json.loads(serialization.dump_input(None, EmptyModel, 1000)) == {}


def test_invalid_input_names_the_validator() -> None:
    with pytest.raises(errors.InvalidInput, match="does not match In"):
        serialization.dump_input({"n": "three"}, In, 1000)


def test_oversized_input_is_refused() -> None:
    with pytest.raises(errors.PayloadTooLarge, match="over the 10-byte limit"):
        serialization.dump_input({"n": 123456789012}, In, 10)


def test_outputs_json_or_pickled() -> None:
    assert serialization.dump_output(In(n=1), 1000, 1000) == ('{"n": 1}', None)
    preview, blob = serialization.dump_output({1, 2}, 1000, 1000)
    assert json.loads(preview)["$pickled"] == "set"
    assert serialization.load_output(None, blob) == {1, 2}


def test_models_inside_a_returned_dict_are_json_as_in_hatchet_sdk() -> None:
    text, blob = serialization.dump_output({"first": In(n=1), "ok": True}, 1000, 1000)
    assert (json.loads(text), blob) == ({"first": {"n": 1}, "ok": True}, None)
    _, blob = serialization.dump_output({"first": In(n=1), "s": {1}}, 1000, 1000)
    assert serialization.load_output(None, blob) == {"first": In(n=1), "s": {1}}


def test_unpicklable_output_is_a_clear_error() -> None:
    with socket.socket() as sock, pytest.raises(errors.SerializationError, match="neither JSON"):
        serialization.dump_output(sock, 1000, 1000)


def test_code_capturing_a_socket_is_refused() -> None:
    sock = socket.socket()
    try:
        code = serialization.WorkflowCode(
            functions={"f": lambda i, c: sock.fileno()}, input_validator=EmptyModel
        )
        with pytest.raises(errors.SerializationError, match="must not capture"):
            serialization.pickle_code(code)
    finally:
        sock.close()


def test_code_from_another_python_is_refused() -> None:
    code = serialization.WorkflowCode(functions={}, input_validator=EmptyModel)
    blob = serialization.pickle_code(code)
    with pytest.raises(errors.IncompatibleCode, match=r"Python 2\.7"):
        serialization.load_code(blob, "2.7", 1)
    assert serialization.load_code(blob, serialization.PYTHON_VERSION, 1) == code


def test_test_modules_travel_by_value() -> None:
    assert serialization._ship_by_value(sys.modules[__name__])
    assert not serialization._ship_by_value(sys.modules["json"])
    assert not serialization._ship_by_value(sys.modules["pydantic"])


def test_signed_pickled_outputs() -> None:
    _, blob = serialization.dump_output({1, 2}, 1000, 1000, key="k")
    assert blob is not None
    assert serialization.load_output(None, blob, key="k") == {1, 2}
    assert serialization.load_output(None, blob) == {1, 2}  # no key: no check
    with pytest.raises(errors.SerializationError, match="unsigned or does not match"):
        serialization.load_output(None, blob[:-1] + b"\x00", key="k")
    _, unsigned = serialization.dump_output({3}, 1000, 1000)
    with pytest.raises(errors.SerializationError, match="unsigned"):
        serialization.load_output(None, unsigned, key="k")
