"""One module per dashboard page; each exposes ``build(config) -> panel viewable``."""

from __future__ import annotations
