"""OpenTelemetry traces of triggers, task runs and durable waits (``pip install
hatchnb[otel]``); hatchet_sdk's ``hatchet_sdk.opentelemetry.instrumentor`` path."""

from __future__ import annotations
