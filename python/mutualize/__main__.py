"""``python -m mutualize``: the command line."""

import sys

from mutualize.cli import main

sys.exit(main())
