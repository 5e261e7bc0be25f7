"""`python -m edgelat.cli`: the same as the `edgelat` command."""

import sys

from edgelat.cli import main

sys.exit(main())
