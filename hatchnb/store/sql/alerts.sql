-- Failure alerts: settings, collection, digests and deliveries.

-- name: get_alert_settings
-- The alert settings row, if alerts were ever configured.
SELECT * FROM hatchnb.alert_settings WHERE id = 1;

-- name: upsert_alert_settings
-- Create or change the alert settings; returns them.
INSERT INTO hatchnb.alert_settings (id, slack_webhook_url, email, on_failure,
                                    on_schedule_timeout, window_seconds)
VALUES (1, %(slack_webhook_url)s, %(email)s, %(on_failure)s, %(on_schedule_timeout)s,
        %(window_seconds)s)
ON CONFLICT (id) DO UPDATE
   SET slack_webhook_url = EXCLUDED.slack_webhook_url, email = EXCLUDED.email,
       on_failure = EXCLUDED.on_failure, on_schedule_timeout = EXCLUDED.on_schedule_timeout,
       window_seconds = EXCLUDED.window_seconds, updated_at = now()
RETURNING *;

-- name: alerts_have_work
-- Whether the alert duty has anything to do: new failures, due digests or due deliveries.
SELECT EXISTS (
           SELECT 1 FROM hatchnb.workflow_runs r, hatchnb.alert_settings s
            WHERE r.status = 'FAILED' AND r.finished_at >= greatest(s.since, now() - interval '2 days')
              AND NOT EXISTS (SELECT 1 FROM hatchnb.alerted_runs a WHERE a.run_id = r.id))
    OR EXISTS (
           SELECT 1 FROM hatchnb.alert_windows w, hatchnb.alert_settings s
            WHERE w.held_back > 0 AND w.opened_at + s.window_seconds * interval '1 second' <= now())
    OR EXISTS (
           SELECT 1 FROM hatchnb.alert_deliveries
            WHERE status <> 'SENT' AND attempts < %(max_attempts)s AND next_attempt_at <= now())
       AS work;

-- name: new_failed_runs
-- Failed runs not yet alerted (finished after alerts were configured, within two days).
SELECT r.id, r.workflow_name, r.error, r.finished_at
  FROM hatchnb.workflow_runs r, hatchnb.alert_settings s
 WHERE r.status = 'FAILED' AND r.finished_at >= greatest(s.since, now() - interval '2 days')
   AND NOT EXISTS (SELECT 1 FROM hatchnb.alerted_runs a WHERE a.run_id = r.id)
 ORDER BY r.finished_at LIMIT 10000;

-- name: mark_runs_alerted
-- Remember that failed runs were handled by the alert duty.
INSERT INTO hatchnb.alerted_runs (run_id) SELECT unnest(%(ids)s::uuid[])
ON CONFLICT DO NOTHING;

-- name: prune_alerted_runs
-- Forget alerted runs older than the alert look-back.
DELETE FROM hatchnb.alerted_runs WHERE alerted_at < now() - interval '3 days';

-- name: lock_alert_window
-- A workflow's alert window, locked; whether it is still open.
SELECT w.workflow_name, w.opened_at, w.held_back,
       w.opened_at + s.window_seconds * interval '1 second' > now() AS open
  FROM hatchnb.alert_windows w, hatchnb.alert_settings s
 WHERE w.workflow_name = %(workflow_name)s FOR UPDATE OF w;

-- name: open_alert_window
-- Start a new window for a workflow after sending it an alert.
INSERT INTO hatchnb.alert_windows (workflow_name, opened_at, held_back, held_kinds)
VALUES (%(workflow_name)s, now(), %(held_back)s, %(held_kinds)s)
ON CONFLICT (workflow_name) DO UPDATE
   SET opened_at = now(), held_back = EXCLUDED.held_back, held_kinds = EXCLUDED.held_kinds;

-- name: hold_back_alerts
-- Count failures held back in a workflow's open window (they go into its digest).
UPDATE hatchnb.alert_windows
   SET held_back = held_back + %(count)s,
       held_kinds = ARRAY(SELECT DISTINCT unnest(held_kinds || %(kinds)s::text[]))
 WHERE workflow_name = %(workflow_name)s;

-- name: take_due_digests
-- Windows that ended with held-back failures: returns their counts and restarts them.
WITH due AS (
    SELECT w.workflow_name, w.opened_at, w.held_back, w.held_kinds
      FROM hatchnb.alert_windows w, hatchnb.alert_settings s
     WHERE w.held_back > 0 AND w.opened_at + s.window_seconds * interval '1 second' <= now()
       FOR UPDATE OF w
)
UPDATE hatchnb.alert_windows w SET opened_at = now(), held_back = 0, held_kinds = '{}'
  FROM due WHERE w.workflow_name = due.workflow_name
RETURNING due.workflow_name, due.opened_at, due.held_back, due.held_kinds;

-- name: queue_alert_delivery
-- Put a message in the alert outbox for one channel.
INSERT INTO hatchnb.alert_deliveries (kind, channel, workflow_name, run_id, subject, body,
                                      status, attempts, last_error, sent_at)
VALUES (%(kind)s, %(channel)s, %(workflow_name)s, %(run_id)s, %(subject)s, %(body)s,
        %(status)s, %(attempts)s, %(last_error)s,
        CASE WHEN %(status)s = 'SENT' THEN now() END)
RETURNING id;

-- name: due_alert_deliveries
-- Outbox messages to (re)send now, oldest first.
SELECT id, kind, channel, workflow_name, run_id, subject, body, attempts
  FROM hatchnb.alert_deliveries
 WHERE status <> 'SENT' AND attempts < %(max_attempts)s AND next_attempt_at <= now()
 ORDER BY id LIMIT 100;

-- name: mark_alert_sent
-- An outbox message was delivered.
UPDATE hatchnb.alert_deliveries
   SET status = 'SENT', attempts = attempts + 1, sent_at = now(), last_error = NULL
 WHERE id = %(id)s;

-- name: mark_alert_failed
-- Sending an outbox message failed: record the error and when to try again.
UPDATE hatchnb.alert_deliveries
   SET status = 'ERROR', attempts = attempts + 1, last_error = %(error)s,
       next_attempt_at = now() + %(retry_in)s::interval
 WHERE id = %(id)s;

-- name: list_alert_deliveries
-- Recent outbox messages with their delivery state, newest first.
SELECT id, kind, channel, workflow_name, run_id, subject, body, status, attempts, last_error,
       created_at, sent_at
  FROM hatchnb.alert_deliveries ORDER BY id DESC LIMIT %(limit)s;
