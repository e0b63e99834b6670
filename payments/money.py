"""Moved to `core.money`; its names stay importable from here while payments/ and backoffice/ are reworked.

New code imports `core.money`.
"""

from core.money import *  # noqa: F403
from core.money import __all__  # noqa: F401
