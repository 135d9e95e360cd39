"""hatchet_sdk's submodule import paths, with the import changed to hatchnb."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

import hatchnb
from hatchnb.sdk_paths import ALIASES


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


@pytest.mark.parametrize("option", ["config", "client"])
def test_hatchet_options_it_cannot_honour_are_refused(option: str) -> None:
    with pytest.raises(NotImplementedError, match=f"{option}="):
        options: dict[str, Any] = {option: object()}
        hatchnb.Hatchet(**options)


def test_unknown_hatchet_arguments_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="tenant_id"):
        hatchnb.Hatchet(tenant_id="t")  # type: ignore[call-arg]
