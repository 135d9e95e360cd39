"""Differences between two values, size-limited: a JSON tree diff (added, removed and
changed paths with old and new values) and a pandas DataFrame diff (shape, columns, changed
cells). Pure functions, no I/O; pandas is only touched when a value is a DataFrame."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import struct
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger("hatchnb.diff")

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


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ImageDiff:
    """Two image-like outputs as PNGs (base64; '' when larger than ``MAX_IMAGE_CHARS``),
    compared by content, shown side by side."""

    a: str
    b: str
    size_a: tuple[int, int]
    size_b: tuple[int, int]
    same: bool


def image_png(value: Any) -> bytes | None:
    """The PNG of an image-like output: PNG bytes, a matplotlib figure, or anything with
    ``_repr_png_`` (PIL images, ``IPython.display.Image``); None for anything else."""
    if isinstance(value, bytes | bytearray):
        return bytes(value) if bytes(value[:8]) == PNG_SIGNATURE else None
    figure = type(value).__module__.startswith("matplotlib")
    if figure and callable(getattr(value, "savefig", None)):
        buffer = io.BytesIO()
        value.savefig(buffer, format="png")
        return buffer.getvalue()
    render = getattr(value, "_repr_png_", None)
    if not callable(render):
        return None
    try:
        png = render()
    except Exception:  # an object that cannot draw itself is compared as a value
        return None
    if isinstance(png, str):
        png = base64.b64decode(png)
    return png if isinstance(png, bytes) and png[:8] == PNG_SIGNATURE else None


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def diff_images(a: bytes, b: bytes) -> ImageDiff:
    def shown(png: bytes) -> str:
        encoded = base64.b64encode(png).decode()
        return encoded if len(encoded) <= MAX_IMAGE_CHARS else ""

    return ImageDiff(shown(a), shown(b), png_size(a), png_size(b), same=a == b)


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
    #: the cell's images (``(mime, base64)``) on each side, when its outputs changed
    old_images: tuple[tuple[str, str], ...] = ()
    new_images: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NotebookDiff:
    """Two executed notebooks (nbformat JSON) compared cell by cell."""

    cells: list[CellDiff]
    total: int
    #: how cells were paired: "nbdime" (its alignment: an inserted cell leaves the cells
    #: after it matched) or "position" (nbdime not installed)
    aligned_by: str = "position"

    @property
    def same(self) -> bool:
        return self.total == 0

    @property
    def truncated(self) -> bool:
        return self.total > len(self.cells)


def diff_notebooks(a: dict[str, Any], b: dict[str, Any], limit: int = MAX_CHANGES) -> NotebookDiff:
    """Cells paired by nbdime when it is installed (else by position): added and removed
    cells, and for the others whether the source and the outputs (text, errors, images by
    content) differ; execution counts, ids and metadata are ignored. Changed images are
    kept on both sides, to be shown side by side."""
    cells_a, cells_b = a.get("cells", []), b.get("cells", [])
    pairs = _nbdime_pairs(a, b)
    aligned_by = "nbdime"
    if pairs is None:
        aligned_by = "position"
        pairs = _positional_pairs(len(cells_a), len(cells_b))
    found: list[CellDiff] = []
    total = 0
    for i, j in pairs:
        old = cells_a[i] if i is not None else None
        new = cells_b[j] if j is not None else None
        cell = _cell_diff(j if j is not None else i or 0, old, new)
        if cell is not None:
            total += 1
            if len(found) < limit:
                found.append(cell)
    return NotebookDiff(found, total, aligned_by)


Pair = tuple[int | None, int | None]


def _joined(node: Any, key: str = "", in_bundle: bool = False) -> Any:
    """A stored notebook with its multiline strings (sources, stream texts, mime bundle
    values, kept on disk as lists of lines) as strings, which nbdime compares."""
    if isinstance(node, dict):
        return {k: _joined(v, k, key == "data") for k, v in node.items()}
    if isinstance(node, list):
        if (key in ("source", "text") or in_bundle) and all(isinstance(x, str) for x in node):
            return "".join(node)
        return [_joined(x) for x in node]
    return node


def _positional_pairs(count_a: int, count_b: int) -> list[Pair]:
    return [
        (i if i < count_a else None, i if i < count_b else None)
        for i in range(max(count_a, count_b))
    ]


def _nbdime_pairs(a: dict[str, Any], b: dict[str, Any]) -> list[Pair] | None:
    """(index in A, index in B) of each cell, as nbdime aligns them; None without nbdime."""
    try:
        import nbdime
        import nbformat
    except ImportError:
        return None
    try:
        diff = nbdime.diff_notebooks(nbformat.from_dict(_joined(a)), nbformat.from_dict(_joined(b)))
    except Exception:  # a notebook nbdime cannot take: compare by position instead
        logger.warning("nbdime could not compare the notebooks; pairing cells by position",
                       exc_info=True)  # fmt: skip
        return None
    ops: list[dict[str, Any]] = next(
        (e["diff"] for e in diff if e["key"] == "cells" and e["op"] == "patch"), []
    )
    count_a, count_b = len(a.get("cells", [])), len(b.get("cells", []))
    pairs: list[Pair] = []
    i = j = 0
    for op in ops:  # sorted by the index in A; an insertion comes before a patch at its key
        while i < op["key"]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        if op["op"] == "addrange":
            pairs += [(None, j + k) for k in range(len(op["valuelist"]))]
            j += len(op["valuelist"])
        elif op["op"] == "removerange":
            pairs += [(i + k, None) for k in range(op["length"])]
            i += op["length"]
        else:  # patch: the same cell, changed
            pairs.append((i, j))
            i, j = i + 1, j + 1
    while i < count_a and j < count_b:
        pairs.append((i, j))
        i, j = i + 1, j + 1
    return pairs


def _cell_diff(i: int, old: dict[str, Any] | None, new: dict[str, Any] | None) -> CellDiff | None:
    kind: ChangeKind = "added" if old is None else "removed" if new is None else "changed"
    either = new if new is not None else old
    assert either is not None
    src_a, src_b = _source(old), _source(new)
    out_a, out_b = _outputs_text(old), _outputs_text(new)
    if kind == "changed" and src_a == src_b and out_a == out_b:
        return None
    images_a, images_b = (_images(old), _images(new)) if out_a != out_b else ((), ())
    return CellDiff(
        index=i,
        kind=kind,
        cell_type=str(either.get("cell_type", "code")),
        source_changed=src_a != src_b,
        outputs_changed=out_a != out_b,
        old_output=_cut(out_a),
        new_output=_cut(out_b),
        old_images=images_a if images_a != images_b else (),
        new_images=images_b if images_a != images_b else (),
    )


#: image types shown side by side, and the base64 size of one image kept for it
IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif")
MAX_IMAGE_CHARS = 2_000_000


def _images(cell: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """A cell's raster images as (mime, base64), the too large ones left out."""
    found = []
    for out in (cell or {}).get("outputs", []):
        data = out.get("data", {})
        for mime in IMAGE_MIMES:
            encoded = data.get(mime)
            if isinstance(encoded, list):
                encoded = "".join(encoded)
            if isinstance(encoded, str) and len(encoded) <= MAX_IMAGE_CHARS:
                found.append((mime, encoded.replace("\n", "")))
    return tuple(found)


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
