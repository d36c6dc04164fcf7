"""Checkers for the exercises, one module per chapter (``chNN.py``), loaded on first use by :mod:`dlbook_utils.check`."""
