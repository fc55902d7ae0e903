"""Experiments: the paper's Figs. 3/4 through the link, the estimator's efficiency, shared statistics."""
