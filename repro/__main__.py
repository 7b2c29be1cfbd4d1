from __future__ import annotations

from repro.cli import main

raise SystemExit(main())
