"""hatchet_sdk's serialization context: inputs and outputs are dumped and validated with
pydantic ``context=SERIALIZATION_CONTEXT``, so a model can encode a field only when hatchnb
stores it (``is_in_hatchet_serialization_context(info.context)``)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

SERIALIZATION_CONTEXT = MappingProxyType({"is_hatchet_serialization_context": True})
#: hatchet_sdk's name for it
HATCHET_PYDANTIC_SENTINEL = SERIALIZATION_CONTEXT


def is_in_hatchet_serialization_context(context: Any) -> bool:
    """Whether pydantic's ``info.context`` is hatchnb storing or loading a payload."""
    return bool(context == SERIALIZATION_CONTEXT)
