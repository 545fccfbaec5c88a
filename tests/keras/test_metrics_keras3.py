"""The Keras 3 metric classes TF's tutorials use, against values recorded from Keras 3.15 (TF 2.21).

Each case updates one metric twice (all samples, then the first five) and another once with
per-sample weights; both results, the default name and ``get_config()`` were recorded in Keras.
"""
from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tf

metrics = tf.keras.metrics
pytestmark = pytest.mark.filterwarnings("ignore:.*do not sum to 1")  # the rounded test rows

DATA = {k: np.asarray(v, np.float32) for k, v in (
{'yb': [[1.0], [1.0], [1.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [1.0], [1.0], [1.0], [1.0], [1.0],
        [1.0], [1.0]],
 'pb': [[0.544], [0.935], [0.816], [0.003], [0.857], [0.034], [0.73], [0.176], [0.863], [0.541], [0.3],
        [0.423], [0.028], [0.124], [0.671], [0.647]],
 'yc': [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0],
        [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]],
 'pc': [[0.568, 0.321, 0.111], [0.463, 0.337, 0.199], [0.21, 0.385, 0.404], [0.286, 0.457, 0.257],
        [0.449, 0.255, 0.296], [0.511, 0.131, 0.358], [0.049, 0.489, 0.462], [0.204, 0.746, 0.05],
        [0.359, 0.16, 0.481], [0.738, 0.214, 0.048], [0.583, 0.286, 0.131], [0.374, 0.193, 0.433]],
 'ys': [0, 1, 2, 1, 1, 2, 2, 2, 1, 2, 2, 1],
 'yr': [[0.599, 2.826, 1.095], [0.316, 1.887, 2.781], [1.321, 2.864, 1.5], [1.276, 1.861, 2.985],
        [2.847, 1.38, 2.273], [1.492, 1.588, 2.357], [1.244, 2.203, 2.133], [2.796, 0.345, 2.187],
        [2.782, 2.904, 0.044], [2.591, 2.944, 2.872]],
 'pr': [[-0.054, 2.418, 2.17], [1.967, 0.94, 0.197], [1.906, 2.271, 0.298], [1.117, 0.828, 2.293],
        [-0.378, 1.696, 1.343], [-0.415, 1.658, -0.452], [1.774, 1.038, 2.287], [-0.302, 2.024, -0.3],
        [0.533, 0.791, 2.398], [1.187, 0.277, 0.225]],
 'w16': [0.888, 0.226, 0.125, 0.288, 0.586, 0.554, 0.81, 0.56, 0.288, 0.413, 0.818, 0.627, 0.959, 0.369,
         0.553, 0.594],
 'w12': [0.848, 0.145, 0.407, 0.91, 0.043, 0.823, 0.415, 0.83, 0.01, 0.365, 0.079, 0.653],
 'w10': [0.274, 0.703, 0.944, 0.127, 0.865, 0.059, 0.381, 0.43, 0.489, 0.976]}).items()}

# key: [result after two updates, weighted result, default name, get_config()]
EXPECTED = {'BinaryCrossentropy': [0.8740923, 1.14795, 'binary_crossentropy',
                        {'name': 'binary_crossentropy',
                         'dtype': 'float32',
                         'from_logits': False,
                         'label_smoothing': 0}],
 'BinaryCrossentropy_logits': [0.9299301, 1.141464, 'ce',
                               {'name': 'ce',
                                'dtype': 'float32',
                                'from_logits': True,
                                'label_smoothing': 0.1}],
 'MeanAbsoluteError': [1.320867, 1.558236, 'mean_absolute_error',
                       {'name': 'mean_absolute_error', 'dtype': 'float32'}],
 'MeanSquaredError': [2.604387, 3.31253, 'mean_squared_error',
                      {'name': 'mean_squared_error', 'dtype': 'float32'}],
 'RootMeanSquaredError': [1.613811, 1.820036, 'root_mean_squared_error',
                          {'name': 'root_mean_squared_error', 'dtype': 'float32'}],
 'MeanAbsolutePercentageError': [209.0436, 261.2214, 'mean_absolute_percentage_error',
                                 {'name': 'mean_absolute_percentage_error', 'dtype': 'float32'}],
 'MeanSquaredLogarithmicError': [0.4992785, 0.6233664, 'mean_squared_logarithmic_error',
                                 {'name': 'mean_squared_logarithmic_error', 'dtype': 'float32'}],
 'CosineSimilarity': [0.6344131, 0.6063489, 'cosine_similarity',
                      {'name': 'cosine_similarity', 'dtype': 'float32'}],
 'LogCoshError': [0.7989545, 0.9933953, 'logcosh', {'name': 'logcosh', 'dtype': 'float32'}],
 'Poisson': [1.39178, 1.651405, 'poisson', {'name': 'poisson', 'dtype': 'float32'}],
 'KLDivergence': [1.33884, 1.409439, 'kl_divergence', {'name': 'kl_divergence', 'dtype': 'float32'}],
 'CategoricalCrossentropy': [1.338607, 1.409342, 'categorical_crossentropy',
                             {'name': 'categorical_crossentropy',
                              'dtype': 'float32',
                              'from_logits': False,
                              'label_smoothing': 0,
                              'axis': -1}],
 'CategoricalCrossentropy_smooth': [1.321888, 1.390463, 'categorical_crossentropy',
                                    {'name': 'categorical_crossentropy',
                                     'dtype': 'float32',
                                     'from_logits': False,
                                     'label_smoothing': 0.2,
                                     'axis': -1}],
 'SparseCategoricalCrossentropy': [1.338607, 1.409342, 'sparse_categorical_crossentropy',
                                   {'name': 'sparse_categorical_crossentropy',
                                    'dtype': 'float32',
                                    'from_logits': False,
                                    'ignore_class': None,
                                    'axis': -1}],
 'Hinge': [0.8189999, 0.8962671, 'hinge', {'name': 'hinge', 'dtype': 'float32'}],
 'SquaredHinge': [1.014065, 1.075378, 'squared_hinge', {'name': 'squared_hinge', 'dtype': 'float32'}],
 'CategoricalHinge': [1.137941, 1.147631, 'categorical_hinge',
                      {'name': 'categorical_hinge', 'dtype': 'float32'}],
 'Hinge_pm1': [1.165311, 1.166968, 'hinge', {'name': 'hinge', 'dtype': 'float32'}],
 'TruePositives': [9.0, 2.799, 'true_positives',
                   {'name': 'true_positives', 'dtype': 'float32', 'thresholds': None}],
 'FalsePositives': [4.0, 1.684, 'false_positives',
                    {'name': 'false_positives', 'dtype': 'float32', 'thresholds': None}],
 'TrueNegatives': [4.0, 1.402, 'true_negatives',
                   {'name': 'true_negatives', 'dtype': 'float32', 'thresholds': None}],
 'FalseNegatives': [4.0, 2.773, 'false_negatives',
                    {'name': 'false_negatives', 'dtype': 'float32', 'thresholds': None}],
 'TruePositives_multi': [[11.0, 9.0, 4.0], [4.244, 2.799, 0.351], 'true_positives_2',
                         {'name': 'true_positives_2', 'dtype': 'float32', 'thresholds': [0.2, 0.5, 0.8]}],
 'FalseNegatives_multi': [[3.0, 7.0], [2.146, 4.074], 'false_negatives_2',
                          {'name': 'false_negatives_2', 'dtype': 'float32', 'thresholds': [0.3, 0.6]}],
 'AUC_ROC': [0.5673077, 0.4081845, 'auc',
             {'name': 'auc',
              'dtype': 'float32',
              'num_thresholds': 200,
              'curve': 'ROC',
              'summation_method': 'interpolation',
              'multi_label': False,
              'num_labels': None,
              'label_weights': None,
              'from_logits': False}],
 'AUC_PR': [0.6806632, 0.5765972, 'prc',
            {'name': 'prc',
             'dtype': 'float32',
             'num_thresholds': 200,
             'curve': 'PR',
             'summation_method': 'interpolation',
             'multi_label': False,
             'num_labels': None,
             'label_weights': None,
             'from_logits': False}],
 'PrecisionAtRecall': [0.7333333, 0.7159244, 'precision_at_recall',
                       {'name': 'precision_at_recall',
                        'dtype': 'float32',
                        'class_id': None,
                        'num_thresholds': 200,
                        'recall': 0.6}],
 'RecallAtPrecision': [1.0, 0.9999999, 'recall_at_precision',
                       {'name': 'recall_at_precision',
                        'dtype': 'float32',
                        'class_id': None,
                        'num_thresholds': 200,
                        'precision': 0.6}],
 'SensitivityAtSpecificity': [0.8461539, 0.06299354, 'sensitivity_at_specificity',
                              {'name': 'sensitivity_at_specificity',
                               'dtype': 'float32',
                               'class_id': None,
                               'num_thresholds': 200,
                               'specificity': 0.5}],
 'SpecificityAtSensitivity': [0.5, 0.4543098, 'specificity_at_sensitivity',
                              {'name': 'specificity_at_sensitivity',
                               'dtype': 'float32',
                               'class_id': None,
                               'num_thresholds': 200,
                               'sensitivity': 0.5}],
 'SpecificityAtSensitivity_1': [0.5, 0.4543098, 'specificity_at_sensitivity_2',
                                {'name': 'specificity_at_sensitivity_2',
                                 'dtype': 'float32',
                                 'class_id': None,
                                 'num_thresholds': 1,
                                 'sensitivity': 0.5}],
 'PrecisionAtRecall_class': [0.5, 0.4222738, 'precision_at_recall_2',
                             {'name': 'precision_at_recall_2',
                              'dtype': 'float32',
                              'class_id': 1,
                              'num_thresholds': 50,
                              'recall': 0.5}],
 'F1Score': [[0.3636363, 0.3333333, 0.3636363], [0.5382417, 0.4647599, 0.2040611], 'f1_score',
             {'name': 'f1_score', 'dtype': 'float32', 'average': None, 'threshold': None}],
 'F1Score_micro': [0.4545454, 0.4942536, 'f1_score',
                   {'name': 'f1_score', 'dtype': 'float32', 'average': 'micro', 'threshold': 0.3}],
 'F1Score_macro': [0.3535353, 0.4023542, 'f1_score',
                   {'name': 'f1_score', 'dtype': 'float32', 'average': 'macro', 'threshold': None}],
 'FBetaScore_weighted': [0.3870889, 0.4366741, 'fbeta_score',
                         {'name': 'fbeta_score',
                          'dtype': 'float32',
                          'average': 'weighted',
                          'beta': 2.0,
                          'threshold': 0.4}]}

CASES = {
    "BinaryCrossentropy": (lambda: metrics.BinaryCrossentropy(), "b"),
    "BinaryCrossentropy_logits": (lambda: metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.1,
                                                                      name="ce"), "b"),
    "MeanAbsoluteError": (metrics.MeanAbsoluteError, "r"), "MeanSquaredError": (metrics.MeanSquaredError, "r"),
    "RootMeanSquaredError": (metrics.RootMeanSquaredError, "r"),
    "MeanAbsolutePercentageError": (metrics.MeanAbsolutePercentageError, "r"),
    "MeanSquaredLogarithmicError": (metrics.MeanSquaredLogarithmicError, "r"),
    "CosineSimilarity": (metrics.CosineSimilarity, "r"), "LogCoshError": (metrics.LogCoshError, "r"),
    "Poisson": (metrics.Poisson, "r"), "KLDivergence": (metrics.KLDivergence, "c"),
    "CategoricalCrossentropy": (metrics.CategoricalCrossentropy, "c"),
    "CategoricalCrossentropy_smooth": (lambda: metrics.CategoricalCrossentropy(label_smoothing=0.2), "c"),
    "SparseCategoricalCrossentropy": (metrics.SparseCategoricalCrossentropy, "s"),
    "Hinge": (metrics.Hinge, "b"), "SquaredHinge": (metrics.SquaredHinge, "b"),
    "CategoricalHinge": (metrics.CategoricalHinge, "c"), "Hinge_pm1": (metrics.Hinge, "r"),
    "TruePositives": (metrics.TruePositives, "b"), "FalsePositives": (metrics.FalsePositives, "b"),
    "TrueNegatives": (metrics.TrueNegatives, "b"), "FalseNegatives": (metrics.FalseNegatives, "b"),
    "TruePositives_multi": (lambda: metrics.TruePositives(thresholds=[0.2, 0.5, 0.8]), "b"),
    "FalseNegatives_multi": (lambda: metrics.FalseNegatives(thresholds=[0.3, 0.6]), "b"),
    "AUC_ROC": (lambda: metrics.AUC(num_thresholds=200, name="auc"), "b"),
    "AUC_PR": (lambda: metrics.AUC(num_thresholds=200, curve="PR", name="prc"), "b"),
    "PrecisionAtRecall": (lambda: metrics.PrecisionAtRecall(0.6), "b"),
    "RecallAtPrecision": (lambda: metrics.RecallAtPrecision(0.6), "b"),
    "SensitivityAtSpecificity": (lambda: metrics.SensitivityAtSpecificity(0.5), "b"),
    "SpecificityAtSensitivity": (lambda: metrics.SpecificityAtSensitivity(0.5), "b"),
    "SpecificityAtSensitivity_1": (lambda: metrics.SpecificityAtSensitivity(0.5, num_thresholds=1), "b"),
    "PrecisionAtRecall_class": (lambda: metrics.PrecisionAtRecall(0.5, num_thresholds=50, class_id=1), "c"),
    "F1Score": (metrics.F1Score, "c"),
    "F1Score_micro": (lambda: metrics.F1Score(average="micro", threshold=0.3), "c"),
    "F1Score_macro": (lambda: metrics.F1Score(average="macro"), "c"),
    "FBetaScore_weighted": (lambda: metrics.FBetaScore(average="weighted", beta=2.0, threshold=0.4), "c"),
}


def _inputs(key, kind):
    y, p, w = {"b": ("yb", "pb", "w16"), "c": ("yc", "pc", "w12"), "s": ("ys", "pc", "w12"),
               "r": ("yr", "pr", "w10")}[kind]
    y, p, w = DATA[y], DATA[p], DATA[w]
    if key == "BinaryCrossentropy_logits":
        p = (p - 0.5) * 6
    if key == "Hinge_pm1":
        y = np.sign(DATA["yr"] - 1.5)
    if key == "Poisson":
        p = np.abs(p) + 0.1
    return y, p, w


@pytest.mark.parametrize("key", list(CASES))
def test_against_keras3(key):
    make, kind = CASES[key]
    y, p, w = _inputs(key, kind)
    expected, weighted, name, config = EXPECTED[key]
    metric = make()
    metric.update_state(y, p)
    metric.update_state(y[:5], p[:5])
    assert np.asarray(metric.result()) == pytest.approx(np.asarray(expected), rel=2e-5, abs=2e-6)
    other = make()
    other.update_state(y, p, sample_weight=w)
    assert np.asarray(other.result()) == pytest.approx(np.asarray(weighted), rel=2e-5, abs=2e-6)
    assert metric.name == name
    assert metric.get_config() == config
    clone = type(metric).from_config(metric.get_config())
    assert clone.get_config() == config
    metric.reset_state()
    assert np.all(np.asarray(metric.result()) == 0)


@pytest.mark.parametrize("key", ["BinaryCrossentropy", "AUC_PR", "TruePositives", "RootMeanSquaredError",
                                 "PrecisionAtRecall", "F1Score_macro"])
def test_updates_inside_a_compiled_function(key):
    make, kind = CASES[key]
    y, p, _ = _inputs(key, kind)
    metric = make()

    @tf.function
    def step(y_true, y_pred):
        metric.update_state(y_true, y_pred)
        return metric.result()

    step(tf.constant(y), tf.constant(p))
    out = step(tf.constant(y[:5]), tf.constant(p[:5]))
    assert np.asarray(out) == pytest.approx(np.asarray(EXPECTED[key][0]), rel=2e-5, abs=2e-6)


def test_string_names_and_aliases():
    for name, cls in (("mae", "MeanAbsoluteError"), ("MSE", "MeanSquaredError"), ("bce", "BinaryCrossentropy"),
                      ("mape", "MeanAbsolutePercentageError"), ("msle", "MeanSquaredLogarithmicError"),
                      ("AUC", "AUC"), ("hinge", "Hinge"), ("poisson", "Poisson"),
                      ("kl_divergence", "KLDivergence"), ("true_positives", "TruePositives")):
        assert type(metrics.get(name)).__name__ == cls
    with pytest.raises(ValueError, match="Could not interpret metric identifier: logcosh"):
        metrics.get("logcosh")
    assert tf.metrics is tf.keras.metrics
    assert tf.losses is tf.keras.losses and tf.optimizers is tf.keras.optimizers


def test_metric_functions():
    assert np.asarray(metrics.mean_absolute_percentage_error([[2.0, 4.0]], [[1.0, 5.0]])) == pytest.approx(
        [37.5])
    assert np.asarray(metrics.mean_squared_logarithmic_error([[0.0]], [[1.0]])) == pytest.approx([0.48045286536216736])
    assert np.asarray(metrics.log_cosh([[0.0, 0.0]], [[1.0, 0.0]])) == pytest.approx([0.2168903946876526])
    assert np.asarray(metrics.poisson([[0.0, 1.0]], [[1.0, 1.0]])) == pytest.approx([0.9999999403953552])
    assert np.asarray(metrics.hinge([[0.0, 1.0]], [[0.6, 0.4]])) == pytest.approx([1.100000023841858])
    assert np.asarray(metrics.squared_hinge([[0.0, 1.0]], [[0.6, 0.4]])) == pytest.approx([1.4600000381469727])
    assert np.asarray(metrics.categorical_hinge([[0.0, 1.0]], [[0.6, 0.4]])) == pytest.approx([1.2000000476837158])


def test_argument_errors():
    with pytest.raises(ValueError, match="`recall` must be in the range"):
        metrics.PrecisionAtRecall(1.5)
    with pytest.raises(ValueError, match="`num_thresholds` must be an integer > 0"):
        metrics.SensitivityAtSpecificity(0.5, num_thresholds=0)
    with pytest.raises(ValueError, match="Invalid `average`"):
        metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match="Invalid `beta`"):
        metrics.FBetaScore(beta=2)
    with pytest.raises(ValueError, match="Threshold values must be in"):
        metrics.TruePositives(thresholds=[1.5])
