"""``python -m optikit``: the same as the ``optikit`` command."""

import sys

from .cli.main import main

sys.exit(main())
