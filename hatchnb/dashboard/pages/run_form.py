"""The workflows page's "Run" form: fields from the selected workflow's input schema, run
now (operator role, audited), a link to the new run."""

from __future__ import annotations

import json
from typing import Any

import panel as pn

from hatchnb import input_form
from hatchnb.dashboard import common
from hatchnb.records import Role


def _widget(field: input_form.Field) -> Any:
    label = f"{field.name}{' *' if field.required else ''}"
    if field.kind == "enum":
        value = field.default if field.default in field.choices else field.choices[0]
        return pn.widgets.Select(label=label, options=list(field.choices), value=value, width=200)
    if field.kind == "boolean":
        return pn.widgets.Checkbox(label=label, value=bool(field.default))
    if field.kind == "integer":
        return pn.widgets.IntInput(label=label, value=field.default or 0, width=160)
    if field.kind == "number":
        return pn.widgets.FloatInput(label=label, value=field.default or 0.0, width=160)
    if field.kind == "string":
        return pn.widgets.TextInput(label=label, value=field.default or "", width=200)
    text = "" if field.default is None else json.dumps(field.default)
    return pn.widgets.TextAreaInput(label=label, value=text, placeholder="JSON", width=300)


class RunFormPanel:
    """``panel``: the form of the workflow last ``show``n."""

    def __init__(self, config: common.DashboardConfig) -> None:
        self.config = config
        self.workflow: str | None = None
        self.fields: list[input_form.Field] = []
        self.inputs: dict[str, Any] = {}
        self.run = pn.widgets.Button(label="Run now", color="primary", width=120)
        self.run.on_click(lambda _: self.start())
        common.enable_for(config, Role.OPERATOR, self.run)
        self.feedback = pn.pane.HTML("", name="run_form_feedback")
        self.body = pn.Row(sizing_mode="stretch_width")
        self.panel = pn.Column("### Run it", self.body, pn.Row(self.run, self.feedback))

    def show(self, workflow: str) -> None:
        self.workflow = workflow
        schema = self.config.client.workflows.input_schema(workflow)
        self.fields = input_form.fields_of(schema)
        self.inputs = {f.name: _widget(f) for f in self.fields}
        self.body[:] = list(self.inputs.values())
        self.feedback.object = ""

    def start(self) -> None:
        user = common.authorize(self.config, Role.OPERATOR, "start runs", self.feedback)
        if user is None or self.workflow is None:
            return
        try:
            values = {name: widget.value for name, widget in self.inputs.items()}
            data = input_form.input_of(self.fields, values)
            run = self.config.client.runs.create(self.workflow, data)
        except Exception as exc:  # shown to the user, who fixes a field
            self.feedback.object = common.message(f"{type(exc).__name__}: {exc}", "error")
            return
        common.audit(self.config, user, "run", self.workflow, run=run.workflow_run_id)
        self.feedback.object = f"started run {common.run_link(run.workflow_run_id)}"
