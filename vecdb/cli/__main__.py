"""`python -m vecdb.cli` runs the `vecdb` command line."""

import sys

from vecdb.cli.main import main

sys.exit(main())
