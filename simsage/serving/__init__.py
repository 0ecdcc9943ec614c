"""Inference serving (data plane of hosting and batch transform): the scoring handlers
(built-in XGBoost, script mode) as plain functions, and the HTTP server an endpoint
instance runs (``python -m simsage.serving.server``)."""
