-- Inbound webhooks (hatchnb/features/webhooks.py, issue 16): a named endpoint that verifies
-- a request and turns it into an event. `auth_settings` holds the non-secret part of the
-- auth method (username, header name, HMAC algorithm and encoding); `secret` holds the
-- secret part sealed by hatchnb/secret_box.py: a salted hash (basic password, API key) or
-- the HMAC signing secret, encrypted when HATCHNB_SECRETS_KEY is set (docs/security.md).
CREATE TABLE hatchnb.webhooks (
    id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    source_name text NOT NULL,
    auth_type text NOT NULL CHECK (auth_type IN ('BASIC', 'API_KEY', 'HMAC')),
    auth_settings jsonb NOT NULL DEFAULT '{}',
    secret text NOT NULL,
    event_key_expression text NOT NULL,
    scope_expression text,
    static_payload jsonb,
    return_event_as_response_payload boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- the webhook an event came through (Hatchet's V1Event.triggering_webhook_name)
ALTER TABLE hatchnb.events ADD COLUMN triggering_webhook_name text;
