"""`python -m sluicegate …` is the `sluicegate` command."""

import sys

from sluicegate.cli import main

sys.exit(main())
