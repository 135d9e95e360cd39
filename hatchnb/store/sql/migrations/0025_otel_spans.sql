-- Traces kept by hatchnb (hatchet_sdk's ObservabilityApi reads them back): the spans that
-- HatchetInstrumentor's collector exports from the processes that trigger and run tasks.
-- The engine's own spans are not stored: they are made from the runs when a trace is read.
-- Retention deletes spans by age, as it does alert messages.
CREATE TABLE hatchnb.otel_spans (
    trace_id text NOT NULL,
    span_id text NOT NULL,
    parent_span_id text,
    name text NOT NULL,
    kind text NOT NULL,
    service_name text NOT NULL,
    status_code text NOT NULL,
    status_message text,
    started_at timestamptz NOT NULL,
    duration_ns bigint NOT NULL,
    resource_attributes jsonb NOT NULL DEFAULT '{}',
    span_attributes jsonb NOT NULL DEFAULT '{}',
    scope_name text,
    scope_version text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX otel_spans_created ON hatchnb.otel_spans (created_at);
