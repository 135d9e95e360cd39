-- Events and event filters.

-- name: insert_event
-- Store a pushed event (or one a webhook received).
INSERT INTO hatchnb.events (id, key, payload, additional_metadata, priority, scope,
                            triggering_webhook_name)
VALUES (%(id)s, %(key)s, %(payload)s, %(additional_metadata)s, %(priority)s, %(scope)s,
        %(webhook_name)s)
RETURNING *;

-- name: workflows_for_event
-- Workflows with an on_events pattern matching the key ('*' matches any characters).
SELECT DISTINCT t.workflow_name, t.version_id, t.default_priority
  FROM hatchnb.workflow_triggers t, unnest(t.on_events) AS p (pattern)
 WHERE %(key)s LIKE replace(replace(replace(replace(p.pattern, '\', '\\'), '%%', '\%%'),
                                    '_', '\_'), '*', '%%');

-- name: filters_for_workflow
-- Event filters of a workflow in a scope.
SELECT * FROM hatchnb.filters WHERE workflow_name = %(workflow_name)s AND scope = %(scope)s;

-- name: workflow_has_filters
-- Whether a workflow has any event filter, in any scope.
SELECT EXISTS (SELECT 1 FROM hatchnb.filters WHERE workflow_name = %(workflow_name)s) AS found;

-- name: create_filter
-- An event filter; returns it.
INSERT INTO hatchnb.filters (id, workflow_name, expression, scope, payload)
VALUES (%(id)s, %(workflow_name)s, %(expression)s, %(scope)s, %(payload)s)
RETURNING *;

-- name: lock_workflow_filters
-- Serialize the default-filter declarations of one workflow (registrations may race).
SELECT pg_advisory_xact_lock(hashtext('hatchnb.default_filters:' || %(workflow_name)s));

-- name: create_missing_filter
-- A declared default filter, unless the workflow has one with its expression and scope.
INSERT INTO hatchnb.filters (id, workflow_name, expression, scope, payload)
SELECT %(id)s, %(workflow_name)s, %(expression)s, %(scope)s, %(payload)s
 WHERE NOT EXISTS (SELECT 1 FROM hatchnb.filters
                    WHERE workflow_name = %(workflow_name)s AND expression = %(expression)s
                      AND scope = %(scope)s);

-- name: get_filter
-- One filter by id.
SELECT * FROM hatchnb.filters WHERE id = %(id)s;

-- name: update_filter
-- Change a filter's expression, scope or payload (NULL keeps it); returns it.
UPDATE hatchnb.filters
   SET expression = coalesce(%(expression)s, expression), scope = coalesce(%(scope)s, scope),
       payload = coalesce(%(payload)s, payload)
 WHERE id = %(id)s
RETURNING *;

-- name: list_filters
-- Filters, optionally of one workflow.
SELECT * FROM hatchnb.filters
 WHERE %(workflow_name)s::text IS NULL OR workflow_name = %(workflow_name)s::text
 ORDER BY created_at LIMIT %(limit)s;

-- name: delete_filter
-- Delete a filter.
DELETE FROM hatchnb.filters WHERE id = %(id)s RETURNING id;

-- name: get_event
-- One event with the runs it started.
SELECT e.*, coalesce((SELECT array_agg(r.id ORDER BY r.created_at)
                         FROM hatchnb.workflow_runs_all r WHERE r.event_id = e.id), '{}')
           AS run_ids
  FROM hatchnb.events e WHERE e.id = %(id)s;

-- name: list_events
-- Events, newest first, with the runs they started; every filter is optional (NULL).
SELECT e.*, coalesce((SELECT array_agg(r.id ORDER BY r.created_at)
                         FROM hatchnb.workflow_runs_all r WHERE r.event_id = e.id), '{}')
           AS run_ids
  FROM hatchnb.events e
 WHERE (%(keys)s::text[] IS NULL OR e.key = ANY (%(keys)s::text[]))
   AND (%(since)s::timestamptz IS NULL OR e.created_at >= %(since)s::timestamptz)
   AND (%(until)s::timestamptz IS NULL OR e.created_at <= %(until)s::timestamptz)
   AND (%(ids)s::uuid[] IS NULL OR e.id = ANY (%(ids)s::uuid[]))
   AND (%(scopes)s::text[] IS NULL OR e.scope = ANY (%(scopes)s::text[]))
   AND (%(metadata)s::jsonb IS NULL OR e.additional_metadata @> %(metadata)s::jsonb)
 ORDER BY e.created_at DESC LIMIT %(limit)s OFFSET %(offset)s;
