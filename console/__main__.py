"""``python -m console`` is the same as the ``drconsole`` script."""

import sys

from console.cli import main

sys.exit(main())
