"""``hatchet.webhooks``' models: hatchet_sdk's V1Webhook* enums and auth models (same names,
fields and aliases), the create/update requests, and the records hatchnb hands out."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from hatchnb.records import Event, ResourceMeta, Rows


class V1WebhookSourceName(StrEnum):
    """Who sends the requests; a known source fixes how an HMAC signature is checked."""

    GENERIC = "GENERIC"
    GITHUB = "GITHUB"
    STRIPE = "STRIPE"
    SLACK = "SLACK"
    LINEAR = "LINEAR"
    SVIX = "SVIX"


class V1WebhookAuthType(StrEnum):
    BASIC = "BASIC"
    API_KEY = "API_KEY"
    HMAC = "HMAC"


class V1WebhookHMACAlgorithm(StrEnum):
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"
    MD5 = "MD5"


class V1WebhookHMACEncoding(StrEnum):
    HEX = "HEX"
    BASE64 = "BASE64"
    BASE64URL = "BASE64URL"


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)


class V1WebhookBasicAuth(_Model):
    """HTTP basic auth: the request's ``Authorization: Basic`` must carry these."""

    username: StrictStr = Field(min_length=1)
    password: StrictStr = Field(min_length=1, repr=False)


class V1WebhookAPIKeyAuth(_Model):
    """A key the sender puts in a header of its choosing."""

    header_name: StrictStr = Field(alias="headerName", min_length=1)
    api_key: StrictStr = Field(alias="apiKey", min_length=1, repr=False)


class V1WebhookHMACAuth(_Model):
    """An HMAC of the request (the body, or the source's signed text) in a header."""

    algorithm: V1WebhookHMACAlgorithm
    encoding: V1WebhookHMACEncoding
    signature_header_name: StrictStr = Field(alias="signatureHeaderName", min_length=1)
    signing_secret: StrictStr = Field(alias="signingSecret", min_length=1, repr=False)


WebhookAuth = V1WebhookBasicAuth | V1WebhookAPIKeyAuth | V1WebhookHMACAuth


class V1CreateWebhookRequestBase(_Model):
    source_name: V1WebhookSourceName = Field(alias="sourceName")
    name: StrictStr
    event_key_expression: StrictStr = Field(alias="eventKeyExpression")
    scope_expression: StrictStr | None = Field(default=None, alias="scopeExpression")
    static_payload: dict[str, Any] | None = Field(default=None, alias="staticPayload")
    return_event_as_response_payload: StrictBool | None = Field(
        default=None, alias="returnEventAsResponsePayload"
    )


class CreateWebhookRequest(V1CreateWebhookRequestBase):
    """What ``hatchet.webhooks.create`` takes (hatchet_sdk.features.webhooks' model)."""

    auth: WebhookAuth

    @property
    def auth_type(self) -> V1WebhookAuthType:
        if isinstance(self.auth, V1WebhookBasicAuth):
            return V1WebhookAuthType.BASIC
        if isinstance(self.auth, V1WebhookAPIKeyAuth):
            return V1WebhookAuthType.API_KEY
        return V1WebhookAuthType.HMAC


class V1UpdateWebhookRequest(_Model):
    event_key_expression: StrictStr | None = Field(default=None, alias="eventKeyExpression")
    scope_expression: StrictStr | None = Field(default=None, alias="scopeExpression")
    static_payload: dict[str, Any] | None = Field(default=None, alias="staticPayload")
    return_event_as_response_payload: StrictBool | None = Field(
        default=None, alias="returnEventAsResponsePayload"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class V1Webhook:
    """A webhook, with hatchet_sdk's V1Webhook fields; its secrets are never returned."""

    id: str
    name: str
    source_name: V1WebhookSourceName
    event_key_expression: str
    scope_expression: str | None
    static_payload: dict[str, Any] | None
    auth_type: V1WebhookAuthType
    return_event_as_response_payload: bool
    created_at: datetime
    updated_at: datetime
    #: hatchnb has one tenant
    tenant_id: str = ""

    @property
    def metadata(self) -> ResourceMeta:
        return ResourceMeta(self.id, self.created_at, self.updated_at)

    def to_dict(self) -> dict[str, Any]:
        """Hatchet's JSON shape (camelCase), for an HTTP answer."""
        return {
            "metadata": {
                "id": self.id,
                "createdAt": self.created_at.isoformat(),
                "updatedAt": self.updated_at.isoformat(),
            },
            "tenantId": self.tenant_id,
            "name": self.name,
            "sourceName": self.source_name.value,
            "eventKeyExpression": self.event_key_expression,
            "scopeExpression": self.scope_expression,
            "staticPayload": self.static_payload,
            "authType": self.auth_type.value,
            "returnEventAsResponsePayload": self.return_event_as_response_payload,
        }


class V1WebhookList(Rows[V1Webhook]):
    """``hatchet.webhooks.list``: webhooks by name (``.rows``, as hatchet_sdk's list)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookReceipt:
    """What ``hatchet.webhooks.receive`` answers: the event it pushed (id, key, scope, the
    runs it started), or, for Slack's URL verification, only the ``challenge`` to echo."""

    message: str = "ok"
    event: Event | None = None
    challenge: str | None = None
    #: the webhook's return_event_as_response_payload: whether the HTTP answer shows the event
    return_event: bool = True

    @property
    def event_id(self) -> str | None:
        return self.event.event_id if self.event else None

    @property
    def key(self) -> str | None:
        return self.event.key if self.event else None

    @property
    def run_ids(self) -> list[str]:
        return self.event.run_ids if self.event else []

    def to_response(self) -> dict[str, Any]:
        """The HTTP answer's JSON, in Hatchet's V1WebhookResponse shape."""
        if self.challenge is not None:
            return {"challenge": self.challenge}
        answer: dict[str, Any] = {"message": self.message}
        if self.event is not None and self.return_event:
            answer["event"] = _event_json(self.event)
        return answer


def _event_json(event: Event) -> dict[str, Any]:
    created = event.created_at.isoformat()
    return {
        "metadata": {"id": event.event_id, "createdAt": created, "updatedAt": created},
        "key": event.key,
        "payload": event.payload,
        "additionalMetadata": event.additional_metadata,
        "scope": event.scope,
        "triggeringWebhookName": event.triggering_webhook_name,
        "triggeredRuns": [{"workflowRunId": r} for r in event.run_ids],
    }
