"""`python -m dockyard.cli ...` (used to auto-start the daemon with the same interpreter)."""

import sys

from dockyard.cli.main import main

sys.exit(main())
