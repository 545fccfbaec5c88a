"""``python -m tapegrad``: the ``tapegrad`` command (see ``tapegrad.cli``)."""
import sys

from tapegrad.cli import main

sys.exit(main())
