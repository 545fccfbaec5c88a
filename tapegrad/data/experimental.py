"""``tf.data.experimental``: the names TF 2 still keeps here (AUTOTUNE, cardinality, the CSV readers,
``sample_from_datasets``)."""
from ._workers import AUTOTUNE
from .csv_readers import CsvDataset, make_csv_dataset
from .dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY
from .sources import sample_from_datasets

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "CsvDataset", "cardinality",
           "make_csv_dataset", "sample_from_datasets"]


def cardinality(dataset):
    """``dataset.cardinality()``, as the older ``tf.data.experimental.cardinality(dataset)``.

    >>> import tapegrad as tf
    >>> int(tf.data.experimental.cardinality(tf.data.Dataset.range(3).repeat()))
    -1
    """
    return dataset.cardinality()
