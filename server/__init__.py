"""The hatchnb dashboard: a Panel app reading through the hatchnb library (no SQL here).

Served by ``hatchnb dashboard`` (see :mod:`hatchnb.dashboard`) or ``panel serve server/app.py``.
"""

from __future__ import annotations
