"""Errors a learner or instructor can cause, each with a message that says what to do.

The command line prints ``str(error)`` on one line and exits 1 for any ``CourseError``;
notebooks show the same message. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


def one_line(text: object) -> str:
    """``str(text)`` with every run of whitespace (newlines too) turned into one space."""
    return " ".join(str(text).split())


class CourseError(Exception):
    """Base class for expected failures: bad names, missing data, bad downloads."""


class UnknownDatasetError(CourseError, ValueError):
    """A dataset name that is not one of the supported MovieLens datasets."""


class DataNotFoundError(CourseError, FileNotFoundError):
    """The dataset is not on disk and could not be downloaded."""


class ChecksumError(CourseError):
    """A download whose SHA-256 does not match the published one."""


class UnsafeArchiveError(CourseError):
    """A zip entry that would be written outside the target folder."""


class MalformedDataError(CourseError, ValueError):
    """A ratings or movies file that cannot be parsed (names the file and line)."""


class SyntheticDataError(CourseError, ValueError):
    """Synthetic data that cannot be made: impossible sizes (more ratings than user-movie
    pairs), or a folder that already holds real data."""


class UnknownSplitError(CourseError, ValueError):
    """A split name that is not valid for the chosen dataset."""


class UnknownUserError(CourseError, KeyError):
    """A user id that is not in the dataset."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class UnknownMovieError(CourseError, KeyError):
    """A movie id that is not in the dataset."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TrainingDivergedError(CourseError, FloatingPointError):
    """The training loss became NaN or infinite."""


class InvalidArgumentError(CourseError, ValueError):
    """An argument a function cannot work with: a bad ``k``, mismatched lengths, wrong shape."""


class NotFittedError(CourseError, RuntimeError):
    """A model or baseline used before ``fit``."""


class CheckoutRequiredError(CourseError):
    """A command that needs a checkout of the repository (its ``tools/`` folder)."""


class RecommendError(CourseError, ValueError):
    """A bad request to the recommender, such as asking for ``n <= 0`` movies."""
