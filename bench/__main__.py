"""``python -m bench``: see bench/runner.py (``python -m bench --help``)."""
import sys

from bench.runner import main

if __name__ == "__main__":
    sys.exit(main())
