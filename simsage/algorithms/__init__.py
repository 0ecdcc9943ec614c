"""Built-in algorithms: the programs simsage runs in place of SageMaker's algorithm images.

Each algorithm is a module started as a child process per host
(``python -m simsage.algorithms.<module>``) with the SageMaker training contract: an
``/opt/ml``-shaped root named by ``SIMSAGE_OPT_ML`` and the ``SM_*`` environment.
Modules here import only what their own run needs; importing this package imports
nothing.
"""
