"""Training (being split into small modules; see the next commit)."""

from .state import *  # noqa: F403
from .state import __all__, _edge_arrays  # noqa: F401
