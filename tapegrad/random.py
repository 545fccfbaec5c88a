"""``tf.random``: seeded random tensors."""
