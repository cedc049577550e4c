"""``python -m fastalived`` is the same as the ``fastalived`` console script."""

import sys

from fastalived.cli import main

sys.exit(main())
