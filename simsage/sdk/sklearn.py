"""Script mode with the scikit-learn image: ``SKLearn`` (training) and ``SKLearnModel``
(serving), as in the official SDK."""

from __future__ import annotations

from simsage.sdk.framework import Framework, FrameworkModel


class SKLearn(Framework):
    """Train ``entry_point`` in the scikit-learn image (``framework_version`` e.g.
    ``1.2-1``); see :class:`~simsage.sdk.framework.Framework`."""

    FRAMEWORK = "sklearn"


class SKLearnModel(FrameworkModel):
    FRAMEWORK = "sklearn"
