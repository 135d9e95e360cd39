"""``hatchet.runs.diff``: the record of what changed between two runs of a workflow, per
task (code, status, output), and its text and HTML renderings. Pure: the caller hands in
each task's facts with its output already loaded."""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from typing import Any

from hatchnb.tree_diff import (
    FrameDiff,
    ImageDiff,
    JsonDiff,
    NotebookDiff,
    diff_frames,
    diff_images,
    diff_json,
    diff_notebooks,
    image_png,
    is_dataframe,
)

OutputDiff = JsonDiff | FrameDiff | ImageDiff


@dataclass(frozen=True)
class TaskSide:
    """One task in one run: what the diff compares."""

    status: str
    output: Any
    error: str | None
    reused: bool
    version_id: int
    #: sha256 of the task's declaration and source in that version ('' when unknown)
    code_hash: str
    #: the executed notebook of a notebook task (nbformat JSON), when one is stored
    notebook: dict[str, Any] | None = None


@dataclass(frozen=True)
class TaskDiff:
    """One task in either run. ``code_changed`` is None when the task is in only one run;
    ``output`` is a JSON, DataFrame or image diff, or None when either side has no output."""

    task_name: str
    a: TaskSide | None
    b: TaskSide | None
    code_changed: bool | None
    output: OutputDiff | None
    #: notebook tasks: their executed notebooks compared cell by cell
    notebook: NotebookDiff | None = None

    @property
    def status_changed(self) -> bool:
        return self.a is None or self.b is None or self.a.status != self.b.status

    @property
    def same(self) -> bool:
        same_output = self.output is None or self.output.same
        same_notebook = self.notebook is None or self.notebook.same
        return not (self.status_changed or self.code_changed) and same_output and same_notebook


@dataclass(frozen=True)
class RunDiff:
    """What changed from run ``run_a`` to run ``run_b``."""

    run_a: str
    run_b: str
    workflow_a: str
    workflow_b: str
    status_a: str
    status_b: str
    input: JsonDiff
    tasks: list[TaskDiff]

    @property
    def changed_tasks(self) -> list[str]:
        return [t.task_name for t in self.tasks if not t.same]

    def to_text(self) -> str:
        return render_text(self)

    def _repr_html_(self) -> str:
        return render_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(render_text(self))


def task_code_hash(task_spec: dict[str, Any] | None, source: str | None) -> str:
    """A task's declaration and source text; '' when the source is unknown (then only the
    version ids tell)."""
    if not source:
        return ""
    text = json.dumps(task_spec, sort_keys=True) + "\n" + source
    return hashlib.sha256(text.encode()).hexdigest()


def diff_task(name: str, a: TaskSide | None, b: TaskSide | None) -> TaskDiff:
    code_changed: bool | None = None
    output: OutputDiff | None = None
    if a is not None and b is not None:
        if a.code_hash and b.code_hash:
            code_changed = a.code_hash != b.code_hash
        else:
            code_changed = a.version_id != b.version_id
        if a.status == "SUCCEEDED" and b.status == "SUCCEEDED":
            output = diff_outputs(a.output, b.output)
    notebook = None
    if a is not None and b is not None and a.notebook is not None and b.notebook is not None:
        notebook = diff_notebooks(a.notebook, b.notebook)
    return TaskDiff(name, a, b, code_changed, output, notebook)


def diff_outputs(a: Any, b: Any) -> OutputDiff:
    if is_dataframe(a) and is_dataframe(b):
        return diff_frames(a, b)
    png_a, png_b = image_png(a), image_png(b)
    if png_a is not None and png_b is not None:
        return diff_images(png_a, png_b)
    return diff_json(_jsonable(a), _jsonable(b))


def _jsonable(value: Any) -> Any:
    """A loaded output as JSON values (a DataFrame against something else: its records)."""
    if is_dataframe(value):
        return json.loads(value.to_json(orient="split"))
    return json.loads(json.dumps(value, default=repr))


# ---- rendering ----------------------------------------------------------------------------


def _code_word(t: TaskDiff) -> str:
    if t.code_changed is None:
        return "only in " + ("B" if t.a is None else "A")
    if t.code_changed:
        return "code changed"
    assert t.a is not None and t.b is not None
    # the source text is the same, yet it was registered again: a global it reads may differ
    return "same code" if t.a.version_id == t.b.version_id else "same source, new version"


def _status_word(t: TaskDiff) -> str:
    a = t.a.status if t.a else "-"
    b = t.b.status if t.b else "-"
    reused = " (reused)" if t.b is not None and t.b.reused else ""
    return (f"{a} -> {b}" if a != b else a) + reused


def _output_lines(diff: OutputDiff | None) -> list[str]:
    if diff is None:
        return []
    if isinstance(diff, ImageDiff):
        (wa, ha), (wb, hb) = diff.size_a, diff.size_b
        return [f"image {wa}x{ha} -> {wb}x{hb}: " + ("same" if diff.same else "changed")]
    if diff.same:
        return ["output: same"]
    if isinstance(diff, FrameDiff):
        lines = [f"DataFrame {diff.shape_a} -> {diff.shape_b}"]
        if diff.columns_added:
            lines.append(f"columns added: {', '.join(diff.columns_added)}")
        if diff.columns_removed:
            lines.append(f"columns removed: {', '.join(diff.columns_removed)}")
        for column, (old, new) in diff.dtypes_changed.items():
            lines.append(f"dtype of {column}: {old} -> {new}")
        if diff.rows_added or diff.rows_removed:
            lines.append(f"rows added: {diff.rows_added}, removed: {diff.rows_removed}")
        for cell in diff.cells:
            lines.append(f"[{cell.row}, {cell.column}]: {cell.old!r} -> {cell.new!r}")
        if diff.truncated:
            lines.append(f"... {diff.cells_total - len(diff.cells)} more changed cells")
        return lines
    lines = [_change_line(c) for c in diff.changes]
    if diff.truncated:
        lines.append(f"... {diff.total - len(diff.changes)} more changes")
    return lines


def _notebook_lines(diff: NotebookDiff | None) -> list[str]:
    if diff is None:
        return []
    if diff.same:
        return ["notebook: same cells and outputs"]
    lines = []
    for cell in diff.cells:
        what = [
            w
            for w, hit in (("source", cell.source_changed), ("outputs", cell.outputs_changed))
            if hit
        ]
        head = f"cell {cell.index} ({cell.cell_type}) {cell.kind}"
        if cell.kind == "changed":
            head += ": " + " and ".join(what)
        lines.append(head)
        if cell.outputs_changed:
            lines.append(f"  {_show(cell.old_output)} -> {_show(cell.new_output)}")
    if diff.truncated:
        lines.append(f"... {diff.total - len(diff.cells)} more changed cells")
    return lines


def _change_line(c: Any) -> str:
    if c.kind == "added":
        return f"+ {c.where}: {_show(c.new)}"
    if c.kind == "removed":
        return f"- {c.where}: {_show(c.old)}"
    return f"~ {c.where}: {_show(c.old)} -> {_show(c.new)}"


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 120 else text[:120] + "…"


def render_text(d: RunDiff) -> str:
    lines = [f"diff {d.run_a} (A) -> {d.run_b} (B)"]
    if d.workflow_a != d.workflow_b:
        lines.append(f"workflows: {d.workflow_a} -> {d.workflow_b}")
    lines.append(f"status: {d.status_a} -> {d.status_b}")
    lines.append("input: same" if d.input.same else "input:")
    lines += ["  " + line for line in _output_lines(d.input) if not d.input.same]
    for t in d.tasks:
        mark = " " if t.same else "*"
        lines.append(f"{mark} {t.task_name}: {_code_word(t)}, {_status_word(t)}")
        lines += ["    " + line for line in _output_lines(t.output) + _notebook_lines(t.notebook)]
    return "\n".join(lines)


def _side_by_side(caption: str, a: list[tuple[str, str]], b: list[tuple[str, str]]) -> str:
    """Images of A and B next to each other (data URIs of base64 the diff holds)."""

    def column(label: str, images: list[tuple[str, str]]) -> str:
        shown = "".join(
            f'<img src="data:{html.escape(mime)};base64,{html.escape(data)}" alt="{label}" '
            'style="max-width:360px;border:1px solid #ddd;display:block">'
            for mime, data in images
        )
        return (
            f'<figure style="margin:0" data-side="{label}"><figcaption>{label}</figcaption>'
            f"{shown or '(none)'}</figure>"
        )

    return (
        f'<div class="hatchnb-images" style="display:flex;gap:12px;margin:4px 0">'
        f"<span>{html.escape(caption)}</span>{column('A', a)}{column('B', b)}</div>"
    )


def _images_html(t: TaskDiff) -> str:
    parts = []
    if isinstance(t.output, ImageDiff) and not t.output.same:
        a = [("image/png", t.output.a)] if t.output.a else []
        b = [("image/png", t.output.b)] if t.output.b else []
        parts.append(_side_by_side("output", a, b))
    for cell in t.notebook.cells if t.notebook is not None else []:
        if cell.old_images or cell.new_images:
            caption = f"cell {cell.index}"
            parts.append(_side_by_side(caption, list(cell.old_images), list(cell.new_images)))
    return "".join(parts)


def render_html(d: RunDiff) -> str:
    """A self-contained table (no scripts), escaped."""
    e = html.escape
    rows = []
    for t in d.tasks:
        shown = _output_lines(t.output) + _notebook_lines(t.notebook)
        details = ("<br>".join(e(line) for line in shown) or "&ndash;") + _images_html(t)
        style = "" if t.same else ' style="background:#fff4e5"'
        rows.append(
            f'<tr data-task="{e(t.task_name)}"{style}><td>{e(t.task_name)}</td>'
            f"<td>{e(_code_word(t))}</td><td>{e(_status_word(t))}</td>"
            f'<td style="font-family:monospace;text-align:left">{details}</td></tr>'
        )
    inputs = "same" if d.input.same else "<br>".join(e(x) for x in _output_lines(d.input))
    return (
        '<div class="hatchnb-run-diff">'
        f"<p><b>A</b> {e(d.run_a)} ({e(d.status_a)}) &rarr; <b>B</b> {e(d.run_b)} "
        f"({e(d.status_b)})</p><p>input: <code>{inputs}</code></p>"
        "<table><thead><tr><th>task</th><th>code</th><th>status</th><th>output</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
