"""Script mode with the XGBoost image: ``XGBoost`` (training your own script) and
``XGBoostModel`` (serving with your own handlers), as in the official SDK. For the
built-in algorithm use :class:`~simsage.sdk.estimator.Estimator` with the image URI."""

from __future__ import annotations

from simsage.sdk.framework import Framework, FrameworkModel


class XGBoost(Framework):
    """Train ``entry_point`` in the XGBoost image (``framework_version`` e.g.
    ``1.7-1``); see :class:`~simsage.sdk.framework.Framework`."""

    FRAMEWORK = "xgboost"


class XGBoostModel(FrameworkModel):
    FRAMEWORK = "xgboost"
