from __future__ import annotations

from hatchnb.cli import main

raise SystemExit(main())
