"""`python -m callcue`: the same as the `callcue` command."""

import sys

from callcue.cli import main

sys.exit(main())
