"""`python -m edgegw`: the same as the `edgegw` command."""

import sys

from edgegw.cli import main

sys.exit(main())
