"""hatchet_sdk's submodule import paths, with the import changed to hatchnb."""

from __future__ import annotations

import importlib
import logging

import pytest

import hatchnb
from hatchnb.sdk_paths import ALIASES
from hatchnb.types import DEFAULT_TENANT_ID


@pytest.mark.parametrize("module", sorted(ALIASES))
def test_every_alias_module_imports_and_holds_its_names(module: str) -> None:
    imported = importlib.import_module(module)
    for name in ALIASES[module]:
        assert getattr(imported, name) is not None


def test_aliases_are_the_public_objects() -> None:
    # exec: the alias paths exist at run time only (type checkers do not see them)
    names: dict[str, object] = {}
    exec(
        "from hatchnb.context.context import Context\n"
        "from hatchnb.exceptions import FailedTaskRunExceptionGroup\n"
        "from hatchnb.runnables.types import EmptyModel\n"
        "from hatchnb.workflow_run import WorkflowRunRef\n",
        names,
    )
    assert names["Context"] is hatchnb.Context
    assert names["EmptyModel"] is hatchnb.EmptyModel
    assert names["WorkflowRunRef"] is hatchnb.WorkflowRunRef
    assert names["FailedTaskRunExceptionGroup"] is hatchnb.FailedTaskRunExceptionGroup


def test_a_name_hatchnb_does_not_have_is_an_import_error() -> None:
    with pytest.raises(ImportError, match="MCPProvider"):
        exec("from hatchnb.runnables.workflow import MCPProvider", {})


def test_unknown_submodules_are_still_missing() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("hatchnb.runnables.nothing_here")


def test_hatchet_options_it_cannot_honour_are_refused() -> None:
    with pytest.raises(NotImplementedError, match="client="):
        hatchnb.Hatchet(client=object())
    with pytest.raises(TypeError, match=r"pass a hatchnb\.ClientConfig"):
        hatchnb.Hatchet(config=object())  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError, match=r"ClientConfig\(token, host_port=...\)"):
        hatchnb.ClientConfig(token="t", host_port="localhost:7070")
    with pytest.raises(ValueError, match="http"):
        hatchnb.ClientConfig(server_url="localhost:8080")


def test_client_config_logger_receives_hatchnb_logs(dsn: str) -> None:
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    mine = logging.getLogger("my-app")
    mine.addHandler(Collect())
    mine.setLevel(logging.INFO)
    hatchet = hatchnb.Hatchet(config=hatchnb.ClientConfig(logger=mine))
    assert hatchet.config.logger is mine and hatchet.config.apply_namespace("wf") == "wf"
    assert hatchet.tenant_id == DEFAULT_TENANT_ID
    logging.getLogger("hatchnb.worker").warning("from hatchnb")
    assert "from hatchnb" in seen


def test_unknown_hatchet_arguments_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="tenant_id"):
        hatchnb.Hatchet(tenant_id="t")  # type: ignore[call-arg]
