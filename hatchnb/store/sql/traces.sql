-- Traces: the spans HatchetInstrumentor's collector stores, and the runs a trace covers.

-- name: insert_spans
-- Store exported spans (a span exported twice is kept once).
INSERT INTO hatchnb.otel_spans (trace_id, span_id, parent_span_id, name, kind, service_name,
                                status_code, status_message, started_at, duration_ns,
                                resource_attributes, span_attributes, scope_name,
                                scope_version)
SELECT * FROM jsonb_to_recordset(%(spans)s::jsonb) AS s (
    trace_id text, span_id text, parent_span_id text, name text, kind text,
    service_name text, status_code text, status_message text, started_at timestamptz,
    duration_ns bigint, resource_attributes jsonb, span_attributes jsonb, scope_name text,
    scope_version text)
ON CONFLICT (trace_id, span_id) DO NOTHING;

-- name: spans_of_trace
-- The stored spans of one trace, oldest first.
SELECT trace_id, span_id, parent_span_id, name, kind, service_name, status_code,
       status_message, started_at, duration_ns, resource_attributes, span_attributes,
       scope_name, scope_version
  FROM hatchnb.otel_spans WHERE trace_id = %(trace_id)s
 ORDER BY started_at, span_id;

-- name: runs_of_trace
-- A run and the runs its tasks spawned, at any depth, with their task runs, what started
-- them and the trace context each carries: what the engine's spans of a trace are made of.
WITH RECURSIVE tree AS (
    SELECT r.id FROM hatchnb.workflow_runs_all r WHERE r.id = %(run_id)s
    UNION
    SELECT c.id FROM tree
      JOIN hatchnb.task_runs_all t ON t.run_id = tree.id
      JOIN hatchnb.workflow_runs_all c ON c.parent_task_run_id = t.id
)
SELECT r.id AS run_id, r.workflow_name, r.created_at, r.finished_at, r.status,
       r.additional_metadata ->> 'traceparent' AS traceparent,
       e.key AS event_key, e.created_at AS event_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'task_name', t.task_name, 'status', t.status, 'queued_at', t.queued_at,
                    'started_at', t.started_at, 'finished_at', t.finished_at,
                    'retry_count', t.retry_count) ORDER BY t.id)
                   FROM hatchnb.task_runs_all t WHERE t.run_id = r.id), '[]') AS tasks
  FROM tree JOIN hatchnb.workflow_runs_all r ON r.id = tree.id
  LEFT JOIN hatchnb.events e ON e.id = r.event_id
 ORDER BY r.created_at;
