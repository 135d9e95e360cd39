"""One module per dashboard page; each exposes ``build() -> panel viewable``."""

from __future__ import annotations
