"""Entry point: ``python3 -m metrics_api_legacy``."""

from metrics_api_legacy.server import main

raise SystemExit(main())
