"""``tf.nn``: activations, losses, normalisation, convolution and pooling."""
