"""Programs that ship with tapegrad and that the ``tapegrad`` command runs (``tapegrad.cli``)."""
