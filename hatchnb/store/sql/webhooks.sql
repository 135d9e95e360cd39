-- Inbound webhooks (0016_webhooks.sql).

-- name: create_webhook
-- A new webhook; no row when the name is taken.
INSERT INTO hatchnb.webhooks (id, name, source_name, auth_type, auth_settings, secret,
                              event_key_expression, scope_expression, static_payload,
                              return_event_as_response_payload)
VALUES (%(id)s, %(name)s, %(source_name)s, %(auth_type)s, %(auth_settings)s, %(secret)s,
        %(event_key_expression)s, %(scope_expression)s, %(static_payload)s,
        %(return_event_as_response_payload)s)
ON CONFLICT (name) DO NOTHING
RETURNING *;

-- name: get_webhook
-- One webhook by name.
SELECT * FROM hatchnb.webhooks WHERE name = %(name)s;

-- name: list_webhooks
-- Webhooks by name; the name and source filters are optional (NULL).
SELECT * FROM hatchnb.webhooks
 WHERE (%(names)s::text[] IS NULL OR name = ANY (%(names)s::text[]))
   AND (%(sources)s::text[] IS NULL OR source_name = ANY (%(sources)s::text[]))
 ORDER BY name LIMIT %(limit)s OFFSET %(offset)s;

-- name: update_webhook
-- Change the fields given (NULL keeps a field); the static payload is replaced whole.
UPDATE hatchnb.webhooks
   SET event_key_expression = coalesce(%(event_key_expression)s, event_key_expression),
       scope_expression = coalesce(%(scope_expression)s, scope_expression),
       static_payload = coalesce(%(static_payload)s, static_payload),
       return_event_as_response_payload = coalesce(%(return_event_as_response_payload)s,
                                                   return_event_as_response_payload),
       updated_at = now()
 WHERE name = %(name)s
RETURNING *;

-- name: delete_webhook
-- Delete a webhook by name; returns the deleted row.
DELETE FROM hatchnb.webhooks WHERE name = %(name)s RETURNING *;

-- name: replace_webhook_secret
-- Store a secret sealed again (a key rotation), unless it changed meanwhile.
UPDATE hatchnb.webhooks SET secret = %(new_secret)s
 WHERE name = %(name)s AND secret = %(old_secret)s
RETURNING name;
