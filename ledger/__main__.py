"""``python -m ledger`` runs the CLI."""

import sys

from ledger.cli import main

sys.exit(main())
