"""Notebook tasks: a ``.ipynb`` run by papermill on a worker.

The notebook's text is read when the task is declared and travels with the task's code,
so a remote worker does not need the file. Parameters are the declared ``parameters``,
then the run input's fields, then one parameter per parent holding its output. Values
come back through ``hatchnb.output(name, value)``: it displays a small output with the
mime type below, which the worker reads from the executed notebook. The executed notebook
(also a failed one) is stored in ``hatchnb.task_notebooks``."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle

from hatchnb import errors, notebook_parameters
from hatchnb.store.runs import RunsRepo

if TYPE_CHECKING:
    from hatchnb.client import Hatchet
    from hatchnb.runtime.context import Context

#: mime type of the outputs ``hatchnb.output`` displays inside an executed notebook
OUTPUT_MIME = "application/vnd.hatchnb.output+json"
_PICKLE_PREFIX = "hatchnb-pickle:"


class NotebookFailed(errors.HatchnbError):
    """The notebook raised an error; the executed notebook is stored with the task run."""


def output(name: str, value: Any) -> Any:
    """Return ``value`` from a notebook task under ``name`` (a no-op outside one)."""
    try:
        payload: dict[str, Any] = {"name": name, "json": json.loads(json.dumps(value))}
    except (TypeError, ValueError):
        encoded = base64.b64encode(cloudpickle.dumps(value)).decode()
        payload = {"name": name, "pickle": encoded}
    try:
        from IPython import display
    except ImportError:
        return value
    text = f"hatchnb.output({name!r}): {type(value).__name__}"
    show: Any = display.display
    show({OUTPUT_MIME: payload, "text/plain": text}, raw=True)
    return value


def load_parameter(encoded: str) -> Any:
    """Inside an executed notebook: a parameter that JSON could not carry."""
    return cloudpickle.loads(base64.b64decode(encoded[len(_PICKLE_PREFIX) :]))


@dataclasses.dataclass
class NotebookRunner:
    """The function of a notebook task (picklable: it carries the notebook's text)."""

    path: str
    source: str
    parameters: dict[str, Any]
    parents: list[str]
    kernel_name: str
    cell_timeout: float | None

    def __call__(self, input: Any, ctx: Context) -> dict[str, Any]:
        params = {**self.parameters, **_as_dict(input)}
        params.update({p: ctx.task_output(p) for p in self.parents})
        notebook, failure = _execute(self, params)
        _store(ctx, notebook, failed=failure is not None)
        if failure is not None:
            raise NotebookFailed(f"{failure}; the executed notebook is stored with the task run")
        return read_outputs(notebook)

    def notebook_input_schema(self) -> dict[str, Any] | None:
        """The input its ``parameters`` cell declares (None: the notebook has none)."""
        return notebook_parameters.schema_of(self.source, self.parameters, self.parents)


def runner_for(
    path: str | os.PathLike[str],
    parameters: dict[str, Any] | None,
    parents: list[str],
    kernel_name: str,
    cell_timeout: float | None,
) -> NotebookRunner:
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"notebook {str(file)!r} does not exist")
    return NotebookRunner(
        path=str(file.resolve()),
        source=file.read_text("utf-8"),
        parameters=dict(parameters or {}),
        parents=parents,
        kernel_name=kernel_name,
        cell_timeout=cell_timeout,
    )


def _as_dict(input: Any) -> dict[str, Any]:
    if isinstance(input, dict):
        return dict(input)
    dump = getattr(input, "model_dump", None)
    return dict(dump()) if callable(dump) else {}


def _split_parameters(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(JSON parameters for papermill, pickled ones for our own cell)."""
    plain: dict[str, Any] = {}
    pickled: dict[str, str] = {}
    for key, value in params.items():
        try:
            plain[key] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            pickled[key] = _PICKLE_PREFIX + base64.b64encode(cloudpickle.dumps(value)).decode()
    return plain, pickled


def _with_pickled_parameters(nb: Any, pickled: dict[str, str]) -> Any:
    """Add a cell loading the pickled parameters after the ``parameters`` cell."""
    import nbformat

    if not pickled:
        return nb
    lines = ["import hatchnb.notebook_tasks as _hatchnb_nb"]
    lines += [f"{k} = _hatchnb_nb.load_parameter({v!r})" for k, v in pickled.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["hatchnb-parameters"]
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    nb.cells.insert(tagged[0] + 1 if tagged else 0, cell)
    return nb


def _execute(runner: NotebookRunner, params: dict[str, Any]) -> tuple[Any, str | None]:
    """Run with papermill; returns (executed notebook, failure text or None)."""
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    plain, pickled = _split_parameters(params)
    nb = _with_pickled_parameters(nbformat.reads(runner.source, as_version=4), pickled)
    folder = Path(runner.path).parent
    with tempfile.TemporaryDirectory(prefix="hatchnb-nb-") as tmp:
        out = Path(tmp) / "executed.ipynb"
        try:
            executed = papermill.execute_notebook(
                nb,
                str(out),
                parameters=plain,
                kernel_name=runner.kernel_name,
                language="python",
                execution_timeout=runner.cell_timeout,
                progress_bar=False,
                log_output=False,
                cwd=str(folder) if folder.is_dir() else tmp,
            )
            return executed, None
        except PapermillExecutionError as exc:
            failure = f"{exc.ename}: {exc.evalue} (cell {exc.exec_count or exc.cell_index})"
        except CellTimeoutError as exc:
            failure = f"a cell timed out: {str(exc).splitlines()[0]}"
        except DeadKernelError as exc:
            failure = f"the notebook's kernel died: {exc}"
        partial = nbformat.read(str(out), as_version=4) if out.exists() else nb
        return partial, failure


def read_outputs(notebook: Any) -> dict[str, Any]:
    """Values the notebook returned with ``hatchnb.output``, in order."""
    values: dict[str, Any] = {}
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            payload = out.get("data", {}).get(OUTPUT_MIME)
            if payload is None:
                continue
            if "pickle" in payload:
                values[payload["name"]] = cloudpickle.loads(base64.b64decode(payload["pickle"]))
            else:
                values[payload["name"]] = payload.get("json")
    return values


def _store(ctx: Context, notebook: Any, failed: bool) -> None:
    import nbformat

    RunsRepo(ctx._client._store).save_notebook(
        ctx.task_run_id,
        ctx._claim.attempt,
        ctx.workflow_run_id,
        ctx.task_name,
        nbformat.writes(notebook).encode(),
        failed,
    )


# ---- reading stored notebooks ----------------------------------------------------------


def render_notebook_html(notebook: bytes | str) -> str:
    """A stored notebook as a standalone HTML page (nbconvert's lab template)."""
    import nbformat
    from nbconvert import HTMLExporter

    text = notebook.decode() if isinstance(notebook, bytes) else notebook
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(
        nbformat.reads(text, as_version=4)
    )
    return str(body)


#: the policy of an executed notebook's frame: its own inline styles and embedded (data:)
#: images and fonts; no script, no request anywhere, no form
NOTEBOOK_CSP = (
    "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; base-uri 'none'; form-action 'none'"
)


def notebook_frame(page: str, height: int) -> str:
    """An ``<iframe>`` showing a rendered notebook. Cell outputs are whatever the notebook
    printed, so the frame is sandboxed (a unique origin, no scripts, no forms, no popups)
    and its page carries a Content-Security-Policy that forbids scripts and requests."""
    policy = f'<meta http-equiv="Content-Security-Policy" content="{NOTEBOOK_CSP}">'
    head = re.search(r"<head[^>]*>", page, flags=re.IGNORECASE)
    at = head.end() if head else 0
    locked = page[:at] + policy + page[at:]
    return (
        f'<iframe sandbox="" referrerpolicy="no-referrer" srcdoc="{html.escape(locked)}" '
        f'style="width:100%;height:{int(height)}px;border:1px solid #ddd"></iframe>'
    )


# ---- declaring -------------------------------------------------------------------------


def _task_name(path: str | os.PathLike[str], name: str | None) -> str:
    return name or Path(path).stem.replace("-", "_").replace(" ", "_")


def declare_standalone(
    client: Hatchet,
    path: str | os.PathLike[str],
    name: str | None,
    parameters: dict[str, Any] | None,
    kernel_name: str,
    options: dict[str, Any],
) -> Any:
    runner = runner_for(path, parameters, [], kernel_name, None)
    standalone = client.task(name=_task_name(path, name), **options)(runner)
    runner.cell_timeout = standalone.tasks[0].execution_timeout.total_seconds()
    return standalone


def declare_in_workflow(
    workflow: Any,
    path: str | os.PathLike[str],
    name: str | None,
    parents: list[Any],
    parameters: dict[str, Any] | None,
    kernel_name: str,
    options: dict[str, Any],
) -> Any:
    names = [getattr(p, "name", p) for p in parents]
    runner = runner_for(path, parameters, names, kernel_name, None)
    task = workflow.task(name=_task_name(path, name), parents=parents, **options)(runner)
    runner.cell_timeout = task.execution_timeout.total_seconds()
    return task
