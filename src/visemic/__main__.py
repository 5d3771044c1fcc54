"""``python -m visemic``: the same command line as ``visemic``."""

import sys

try:
    from visemic.cli import main
except KeyboardInterrupt:  # Ctrl-C while still starting up: no traceback either
    sys.exit(130)

sys.exit(main())
