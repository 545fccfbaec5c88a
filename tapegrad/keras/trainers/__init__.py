"""Keras 3's trainer, split as Keras 3 splits it: ``data_adapters`` (what the data means),
``epoch_iterator`` (batches, epoch after epoch), ``compile_utils`` (the compiled loss and metrics),
``input_checks`` (bad inputs refused before any step runs) and ``trainer`` (the ``Model`` mixin).
"""
