"""``python -m asgi_interactions.cli``: the ``asgi-interactions`` command line."""

import sys

from . import main

sys.exit(main())
