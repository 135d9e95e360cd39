"""DB-free rules of the HTTP API and its CLI: the scope of each endpoint (a real server
over a stand-in client whose token check needs no database), input schemas, request
models, argument parsing."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from hatchnb import errors, serialization
from hatchnb.api import AuthMode, inputs, models
from hatchnb.api.auth import InsecureApi
from hatchnb.api.serve import start_api
from hatchnb.features import tokens
from hatchnb.records import ApiToken, TokenScope
from hatchnb.runs_cli import _json_object, _pair

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class _Tokens:
    def authenticate(self, secret: str) -> ApiToken | None:
        scope = secret.removeprefix("hnb_")
        if scope not in {s.value for s in TokenScope}:
            return None
        return ApiToken(
            id=1,
            name=scope,
            scope=TokenScope(scope),
            created_at=NOW,
            expires_at=None,
            revoked_at=None,
            last_used_at=None,
        )


class _Hatchet:
    tokens = _Tokens()


@pytest.fixture(scope="module")
def app() -> Iterator[httpx.Client]:
    auth = AuthMode(failures_per_address=10**6)
    handle = start_api(_Hatchet(), auth=auth)  # type: ignore[arg-type]
    with httpx.Client(base_url=handle.url) as client:
        yield client
    handle.stop()


ADMIN_ONLY = [
    ("post", "/api/v1/runs/0/cancel"),
    ("post", "/api/v1/runs/0/replay"),
    ("post", "/api/v1/runs/cancel"),
    ("post", "/api/v1/runs/replay"),
    ("post", "/api/v1/crons"),
    ("delete", "/api/v1/crons/0"),
    ("post", "/api/v1/schedules"),
    ("delete", "/api/v1/schedules/0"),
]
TRIGGERING = [
    ("post", "/api/v1/workflows/w/runs"),
    ("post", "/api/v1/events"),
    ("post", "/api/v1/events/bulk"),
]
READING = [
    ("get", "/api/v1/runs"),
    ("get", "/api/v1/workflows"),
    ("get", "/api/v1/workers"),
    ("get", "/api/v1/crons"),
    ("get", "/api/v1/schedules"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ONLY + TRIGGERING)
def test_a_read_token_cannot_change_anything(app: httpx.Client, method: str, path: str) -> None:
    response = app.request(method, path, headers={"Authorization": "Bearer hnb_read"})
    assert response.status_code == 403
    assert "has scope read" in response.json()["error"]


@pytest.mark.parametrize(("method", "path"), ADMIN_ONLY + READING)
def test_a_trigger_token_cannot_read_lists_or_change_runs(
    app: httpx.Client, method: str, path: str
) -> None:
    response = app.request(method, path, headers={"Authorization": "Bearer hnb_trigger"})
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path"), ADMIN_ONLY + TRIGGERING + READING)
def test_without_a_good_token_nothing_is_served(app: httpx.Client, method: str, path: str) -> None:
    assert app.request(method, path).status_code == 401
    bad = app.request(method, path, headers={"Authorization": "Bearer hnb_root"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "the token is unknown, revoked or expired"


def test_no_auth_only_on_loopback() -> None:
    AuthMode(required=False).check_address("127.0.0.1")
    AuthMode(required=False).check_address("::1")
    AuthMode(required=True).check_address("0.0.0.0")
    with pytest.raises(InsecureApi, match=r"--no-auth on 0\.0\.0\.0"):
        AuthMode(required=False).check_address("0.0.0.0")


def test_openapi_document_is_3_1_with_bearer_auth(app: httpx.Client) -> None:
    document = app.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "422" in document["paths"]["/api/v1/events"]["post"]["responses"]


class Order(BaseModel):
    item: str
    quantity: int


def test_input_schema_is_stored_and_checked() -> None:
    schema = serialization.input_json_schema(Order)
    assert schema is not None and schema["required"] == ["item", "quantity"]
    inputs.check_input("w", 1, schema, {"item": "a", "quantity": 1})
    with pytest.raises(errors.InvalidInput) as raised:
        inputs.check_input("w", 1, schema, {"item": 3, "quantity": "x"})
    assert "input.item: 3 is not of type 'string'" in str(raised.value)
    assert "input.quantity: 'x' is not of type 'integer'" in str(raised.value)
    assert serialization.input_json_schema(dict) is None  # any object
    inputs.check_input("w", 1, None, {"anything": True})


def test_run_selection_takes_exactly_one_of_ids_and_filters() -> None:
    run_id = "01a24000-0000-7000-8000-000000000000"
    assert models.RunSelection.model_validate({"ids": [run_id]}).ids is not None
    models.RunSelection.model_validate({"filters": {"since": "2030-01-01T00:00:00Z"}})
    bad: dict[str, Any]
    for bad in (
        {},
        {"ids": [run_id], "filters": {"since": "2030-01-01T00:00:00Z"}},
        {"ids": None, "filters": {"since": "2030-01-01T00:00:00Z"}},
        {"ids": []},
    ):
        with pytest.raises(ValidationError):
            models.RunSelection.model_validate(bad)


@pytest.mark.parametrize("moment", [0, "1.5", "2030-01-01T00:00:00"])
def test_times_are_iso_text_with_a_zone(moment: Any) -> None:
    with pytest.raises(ValidationError):
        models.RunFilterBody.model_validate({"since": moment})


def test_token_rules() -> None:
    assert tokens.check_scope("admin") is TokenScope.ADMIN
    with pytest.raises(tokens.InvalidToken, match="choose one of read, trigger, admin"):
        tokens.check_scope("root")
    assert tokens.token_hash("hnb_x") != tokens.token_hash("hnb_y")
    assert len(tokens.token_hash("hnb_x")) == 64
    with pytest.raises(errors.InvalidArgument):
        tokens.check_idempotency_key("a" * 256)


def test_cli_values() -> None:
    assert _pair("n=3") == ("n", 3)
    assert _pair("name=ada") == ("name", "ada")
    assert _pair("tags=[1, 2]") == ("tags", [1, 2])
    with pytest.raises(argparse.ArgumentTypeError, match="key=value"):
        _pair("novalue")
    with pytest.raises(argparse.ArgumentTypeError, match="JSON object"):
        _json_object("[1]")
    assert models.json_safe(object())["repr"].startswith("<object object")
