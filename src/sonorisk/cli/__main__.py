"""``python -m sonorisk.cli``: the same as the ``sonorisk`` command."""

import sys

from sonorisk.cli import main

sys.exit(main())
