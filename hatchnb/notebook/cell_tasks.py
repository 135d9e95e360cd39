"""Turn the body of a ``%%hatchet task NAME`` cell into a task function.

A cell may define ``def NAME(input, ctx)`` itself; otherwise its body becomes the body of
such a function: each parent's output is bound to a local variable named after the parent,
and the value of the last expression is the task's output."""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any


class CellTaskError(ValueError):
    """The cell cannot become a task."""


def defines_function(cell: str, name: str) -> bool:
    """Whether the cell defines ``name`` at top level (then it is run as it is)."""
    tree = _parse(cell)
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        for node in tree.body
    )


def build_function(
    cell: str, name: str, parents: Sequence[str], namespace: dict[str, Any]
) -> Callable[..., Any]:
    """Define ``name(input, ctx)`` from the cell body in ``namespace`` and return it."""
    tree = _parse(cell)
    body = list(tree.body) or [ast.Pass()]
    last = body[-1]
    if isinstance(last, ast.Expr):
        body[-1] = ast.Return(value=last.value)
    bindings = [_bind_parent(p) for p in parents if p.isidentifier() and p != name]
    is_async = any(isinstance(n, ast.Await) for n in ast.walk(tree))
    args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(arg="input"), ast.arg(arg="ctx")],
        kwonlyargs=[],
        kw_defaults=[],
        defaults=[],
    )
    kind = ast.AsyncFunctionDef if is_async else ast.FunctionDef
    fn_def = kind(name=name, args=args, body=[*bindings, *body], decorator_list=[])
    module = ast.fix_missing_locations(ast.Module(body=[fn_def], type_ignores=[]))
    exec(compile(module, f"<hatchet task {name}>", "exec"), namespace)
    fn: Callable[..., Any] = namespace[name]
    fn.__hatchnb_source__ = cell  # type: ignore[attr-defined]  # what runs.diff compares
    return fn


def _bind_parent(parent: str) -> ast.stmt:
    """``parent = ctx.task_output("parent")``"""
    call = ast.Call(
        func=ast.Attribute(
            value=ast.Name(id="ctx", ctx=ast.Load()), attr="task_output", ctx=ast.Load()
        ),
        args=[ast.Constant(value=parent)],
        keywords=[],
    )
    return ast.Assign(targets=[ast.Name(id=parent, ctx=ast.Store())], value=call)


def _parse(cell: str) -> ast.Module:
    try:
        return ast.parse(cell)
    except SyntaxError as exc:
        raise CellTaskError(f"the cell is not valid Python: {exc}") from None
