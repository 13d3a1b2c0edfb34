"""Allow ``python -m iwp_trainer``."""

from iwp_trainer.cli import main

raise SystemExit(main())
