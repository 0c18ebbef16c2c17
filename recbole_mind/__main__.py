"""``python -m recbole_mind``: the same command line as ``run_recbole_mind.py``."""

import sys

from recbole_mind.run.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m recbole_mind"))
