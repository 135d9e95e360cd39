"""Differences between two values, size-limited: a JSON tree diff (added, removed and
changed paths with old and new values) and a pandas DataFrame diff (shape, columns, changed
cells). Pure functions, no I/O; pandas is only touched when a value is a DataFrame."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

#: changes listed per diff before it says it stopped
MAX_CHANGES = 200
#: characters of one old or new value kept in a change (JSON text)
MAX_VALUE_CHARS = 300

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    """One path that differs. ``path`` is a tuple of keys and indexes (``()`` is the root);
    ``old`` is absent for added paths and ``new`` for removed ones (None then)."""

    path: tuple[str | int, ...]
    kind: ChangeKind
    old: Any = None
    new: Any = None

    @property
    def where(self) -> str:
        """The path as text: ``$.rows[2].name``."""
        text = "$"
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
        return text


@dataclass(frozen=True)
class JsonDiff:
    """A tree diff; ``total`` counts every change, ``changes`` lists at most the limit."""

    changes: list[Change] = field(default_factory=list)
    total: int = 0

    @property
    def same(self) -> bool:
        return self.total == 0

    @property
    def truncated(self) -> bool:
        return self.total > len(self.changes)


@dataclass(frozen=True)
class CellChange:
    row: Any
    column: Any
    old: Any
    new: Any


@dataclass(frozen=True)
class FrameDiff:
    """Two DataFrames compared by shape, columns, dtypes and the values of the cells both
    have (rows matched by index label)."""

    shape_a: tuple[int, int]
    shape_b: tuple[int, int]
    columns_added: list[str]
    columns_removed: list[str]
    dtypes_changed: dict[str, tuple[str, str]]
    rows_added: int
    rows_removed: int
    cells: list[CellChange]
    cells_total: int

    @property
    def same(self) -> bool:
        return not (
            self.shape_a != self.shape_b
            or self.columns_added
            or self.columns_removed
            or self.dtypes_changed
            or self.cells_total
        )

    @property
    def truncated(self) -> bool:
        return self.cells_total > len(self.cells)


def diff_json(old: Any, new: Any, limit: int = MAX_CHANGES) -> JsonDiff:
    """Every path where ``new`` differs from ``old`` (dicts by key, lists by index), the
    first ``limit`` of them with their values shortened to ``MAX_VALUE_CHARS``."""
    found: list[Change] = []
    total = _walk(old, new, (), found, limit)
    return JsonDiff(found, total)


def _walk(old: Any, new: Any, path: tuple[str | int, ...], out: list[Change], limit: int) -> int:
    if isinstance(old, dict) and isinstance(new, dict):
        count = 0
        for key in old:
            if key not in new:
                count += _note(out, limit, Change((*path, str(key)), "removed", old=old[key]))
            else:
                count += _walk(old[key], new[key], (*path, str(key)), out, limit)
        for key in new:
            if key not in old:
                count += _note(out, limit, Change((*path, str(key)), "added", new=new[key]))
        return count
    if isinstance(old, list) and isinstance(new, list):
        count = 0
        for i in range(max(len(old), len(new))):
            if i >= len(new):
                count += _note(out, limit, Change((*path, i), "removed", old=old[i]))
            elif i >= len(old):
                count += _note(out, limit, Change((*path, i), "added", new=new[i]))
            else:
                count += _walk(old[i], new[i], (*path, i), out, limit)
        return count
    if _same_leaf(old, new):
        return 0
    return _note(out, limit, Change(path, "changed", old=old, new=new))


def _same_leaf(old: Any, new: Any) -> bool:
    # 1 and True are equal in Python but not in JSON
    return type(old) is type(new) and old == new


def _note(out: list[Change], limit: int, change: Change) -> int:
    if len(out) < limit:
        out.append(Change(change.path, change.kind, shorten(change.old), shorten(change.new)))
    return 1


def shorten(value: Any, limit: int = MAX_VALUE_CHARS) -> Any:
    """``value`` itself when its JSON text is short, else the text cut to ``limit``
    characters with how long it was."""
    text = json.dumps(value, default=repr)
    if len(text) <= limit:
        return value
    return f"{text[:limit]}… ({len(text)} characters)"


def is_dataframe(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas")


def diff_frames(a: Any, b: Any, limit: int = MAX_CHANGES) -> FrameDiff:
    """Compare two pandas DataFrames: shape, added and removed columns, changed dtypes,
    rows added and removed (by index label), and the cells of shared rows and columns whose
    values differ (NaN equals NaN)."""
    cols_a, cols_b = [str(c) for c in a.columns], [str(c) for c in b.columns]
    shared_cols = [c for c in a.columns if c in b.columns]
    shared_rows = a.index.intersection(b.index)
    dtypes = {
        str(c): (str(a[c].dtype), str(b[c].dtype)) for c in shared_cols if a[c].dtype != b[c].dtype
    }
    cells: list[CellChange] = []
    total = 0
    left = a.loc[shared_rows, shared_cols]
    right = b.loc[shared_rows, shared_cols]
    for column in shared_cols:
        old_col, new_col = left[column], right[column]
        differs = ~((old_col == new_col) | (old_col.isna() & new_col.isna()))
        for row in old_col.index[differs.to_numpy()]:
            total += 1
            if len(cells) < limit:
                cells.append(
                    CellChange(_plain(row), str(column), _plain(old_col[row]), _plain(new_col[row]))
                )
    return FrameDiff(
        shape_a=(int(a.shape[0]), int(a.shape[1])),
        shape_b=(int(b.shape[0]), int(b.shape[1])),
        columns_added=[c for c in cols_b if c not in cols_a],
        columns_removed=[c for c in cols_a if c not in cols_b],
        dtypes_changed=dtypes,
        rows_added=len(b.index.difference(a.index)),
        rows_removed=len(a.index.difference(b.index)),
        cells=cells,
        cells_total=total,
    )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for display and JSON)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "ndim", 1) == 0 else value


@dataclass(frozen=True)
class CellDiff:
    """One cell (by position) of two executed notebooks that differs."""

    index: int
    kind: ChangeKind
    cell_type: str
    source_changed: bool
    outputs_changed: bool
    old_output: str
    new_output: str


@dataclass(frozen=True)
class NotebookDiff:
    """Two executed notebooks (nbformat JSON) compared cell by cell."""

    cells: list[CellDiff]
    total: int

    @property
    def same(self) -> bool:
        return self.total == 0

    @property
    def truncated(self) -> bool:
        return self.total > len(self.cells)


def diff_notebooks(a: dict[str, Any], b: dict[str, Any], limit: int = MAX_CHANGES) -> NotebookDiff:
    """Cells matched by position: added and removed cells, and for the others whether the
    source and the outputs (text, errors, images by content) differ; execution counts and
    metadata are ignored."""
    cells_a, cells_b = a.get("cells", []), b.get("cells", [])
    found: list[CellDiff] = []
    total = 0
    for i in range(max(len(cells_a), len(cells_b))):
        old = cells_a[i] if i < len(cells_a) else None
        new = cells_b[i] if i < len(cells_b) else None
        cell = _cell_diff(i, old, new)
        if cell is not None:
            total += 1
            if len(found) < limit:
                found.append(cell)
    return NotebookDiff(found, total)


def _cell_diff(i: int, old: dict[str, Any] | None, new: dict[str, Any] | None) -> CellDiff | None:
    kind: ChangeKind = "added" if old is None else "removed" if new is None else "changed"
    either = new if new is not None else old
    assert either is not None
    src_a, src_b = _source(old), _source(new)
    out_a, out_b = _outputs_text(old), _outputs_text(new)
    if kind == "changed" and src_a == src_b and out_a == out_b:
        return None
    return CellDiff(
        index=i,
        kind=kind,
        cell_type=str(either.get("cell_type", "code")),
        source_changed=src_a != src_b,
        outputs_changed=out_a != out_b,
        old_output=_cut(out_a),
        new_output=_cut(out_b),
    )


def _source(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return ""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _outputs_text(cell: dict[str, Any] | None) -> str:
    """What a reader sees of a cell's outputs: streams, plain text, errors; an image (or
    other rich output) by a hash of its content."""
    parts = []
    for out in (cell or {}).get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(_source({"source": out.get("text", "")}))
        elif out.get("output_type") == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
        else:
            data = out.get("data", {})
            if "text/plain" in data:
                parts.append(_source({"source": data["text/plain"]}))
            for mime in sorted(k for k in data if k != "text/plain"):
                digest = hashlib.sha256(json.dumps(data[mime]).encode()).hexdigest()[:12]
                parts.append(f"[{mime} {digest}]")
    return "\n".join(parts)


def _cut(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"
