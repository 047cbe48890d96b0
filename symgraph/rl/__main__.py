"""``python -m symgraph.rl``: the ``symgraph-rl`` command line (:mod:`symgraph.rl.cli`)."""

import sys

from symgraph.rl.cli import main

if __name__ == "__main__":
    sys.exit(main())
