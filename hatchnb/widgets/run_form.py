"""``%hatchet form WF``: a form made from a workflow's input schema, to run it now, at a time,
or on a cron; the run widget of a started run shows below it."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from traitlets import TraitError

from hatchnb import input_form
from hatchnb.widgets import live

if TYPE_CHECKING:
    from hatchnb.client import Hatchet


def _widget(field: input_form.Field) -> w.Widget:
    label = f"{field.name}{' *' if field.required else ''}"
    common: dict[str, Any] = {"description": label, "tooltip": field.description}
    style = {"description_width": "initial"}
    if field.kind == "enum":
        value = field.default if field.default in field.choices else field.choices[0]
        return w.Dropdown(options=list(field.choices), value=value, style=style, **common)
    if field.kind == "boolean":
        return w.Checkbox(value=bool(field.default), indent=False, **common)
    if field.kind == "integer":
        return w.IntText(value=field.default or 0, style=style, **common)
    if field.kind == "number":
        return w.FloatText(value=field.default or 0.0, style=style, **common)
    if field.kind == "string":
        return w.Text(value=field.default or "", style=style, **common)
    import json

    text = "" if field.default is None else json.dumps(field.default)
    return w.Textarea(value=text, placeholder="JSON", style=style, **common)


def _prefill(field: input_form.Field, widget: w.Widget, value: Any) -> None:
    """Put an earlier run's value in a field (one the field cannot hold is left as it is)."""
    import json

    if field.kind == "json":
        widget.value = json.dumps(value)
    elif field.kind != "enum" or value in field.choices:
        try:
            widget.value = value
        except TraitError:  # e.g. a text in a number field: it keeps its default
            return


class RunForm:
    """Fields from ``workflow``'s registered input schema and three actions: run now, run
    once at a time (UTC), create a cron. ``initial``: values to start from (an earlier
    run's input), else the schema's defaults."""

    def __init__(
        self, client: Hatchet, workflow: str, initial: dict[str, Any] | None = None
    ) -> None:
        self.client = client
        self.workflow = client.workflows.get(workflow).name
        self.fields = input_form.fields_of(client.workflows.input_schema(self.workflow))
        self.inputs = {f.name: _widget(f) for f in self.fields}
        if initial is not None:
            self._start_from(initial)
        soon = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        self.run_at = w.Text(value=soon, description="at (UTC)", layout=w.Layout(width="240px"))
        self.cron_name = w.Text(placeholder="cron name", layout=w.Layout(width="160px"))
        self.expression = w.Text(value="0 6 * * *", layout=w.Layout(width="140px"))
        self.buttons = {
            "run": w.Button(description="Run now", button_style="primary", icon="play"),
            "schedule": w.Button(description="Run at", icon="clock-o"),
            "cron": w.Button(description="Create cron", icon="repeat"),
        }
        for action, button in self.buttons.items():
            button.on_click(lambda _, a=action: self.act(a))
        self.message = w.HTML()
        self.result = w.Output()
        self.started: Any = None
        title = w.HTML(f"<b>{html.escape(self.workflow)}</b>")
        self.box = w.VBox(
            [
                title,
                *self.inputs.values(),
                w.HBox([self.buttons["run"], self.run_at, self.buttons["schedule"]]),
                w.HBox([self.cron_name, self.expression, self.buttons["cron"]]),
                self.message,
                self.result,
            ]
        )

    def _start_from(self, initial: dict[str, Any]) -> None:
        if [f.name for f in self.fields] == ["input"] and self.fields[0].kind == "json":
            _prefill(self.fields[0], self.inputs["input"], initial)  # any JSON object
            return
        for field in self.fields:
            if field.name in initial:
                _prefill(field, self.inputs[field.name], initial[field.name])

    def input(self) -> dict[str, Any]:
        values = {name: widget.value for name, widget in self.inputs.items()}
        return input_form.input_of(self.fields, values)

    def act(self, action: str) -> None:
        """Carry out ``action`` (run, schedule, cron); what happened shows in the form."""
        try:
            text = self._do(action)
        except Exception as exc:  # shown in the form: the user fixes a field and retries
            self._say(f"{type(exc).__name__}: {exc}", error=True)
            return
        self._say(text)

    def _do(self, action: str) -> str:
        hatchet, data = self.client, self.input()
        if action == "run":
            run = hatchet.runs.create(self.workflow, data)
            self.started = hatchet.runs.get_run_ref(run.workflow_run_id)
            with self.result:
                self.result.clear_output()
                live.show(self.started)
            return f"started run {run.workflow_run_id}"
        if action == "schedule":
            at = datetime.fromisoformat(self.run_at.value.strip())
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            scheduled = hatchet.scheduled.create(self.workflow, at, data)
            return f"scheduled run {scheduled.id} at {at:%Y-%m-%d %H:%M} UTC"
        name = self.cron_name.value.strip()
        if not name:
            raise ValueError("name the cron")
        cron = hatchet.cron.create(self.workflow, name, self.expression.value.strip(), data)
        return f"cron {cron.name} created ({cron.expression})"

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#b00020" if error else "#1b5e20"
        self.message.value = f'<span style="color:{colour}">{html.escape(text)}</span>'

    def _ipython_display_(self) -> None:
        live.show(self.box)

    def __repr__(self) -> str:
        return f"<RunForm {self.workflow}: {', '.join(self.inputs)}>"
