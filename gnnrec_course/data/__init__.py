"""MovieLens: download, verify, cache and parse into pandas; synthetic data in the same formats."""

from gnnrec_course.data.movielens import *  # noqa: F401,F403
from gnnrec_course.data.movielens import MOVIE_COLUMNS, RATING_COLUMNS, __all__  # noqa: F401
