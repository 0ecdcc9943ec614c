"""Hyperparameter tuning jobs (CreateHyperParameterTuningJob …): a job that runs training
jobs over a search space with a strategy (Grid, Random, Bayesian, Hyperband) and keeps
the best by an objective metric.

``strategies`` and ``ranges`` are the search itself (pure functions of the ranges, the
history and the seed); ``jobs`` is the registry row, ``api`` answers the operations,
``runner`` is the detached job process that launches and watches the children.
"""
