"""Entry script for the frozen app: the same `main` as the `audience-manager` console script."""

from audience_manager.__main__ import main

raise SystemExit(main())
