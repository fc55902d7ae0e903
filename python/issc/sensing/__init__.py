"""Sensing: the MAP target estimator, the tracker, and the streaming estimator and tracking policy that the blocks drive."""
