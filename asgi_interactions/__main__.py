"""``python -m asgi_interactions``: the ``asgi-interactions`` command line."""

import sys

from .cli import main

sys.exit(main())
