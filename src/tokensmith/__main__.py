"""``python -m tokensmith`` runs the command line."""

import sys

from tokensmith.cli import main

sys.exit(main())
