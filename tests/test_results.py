"""gnnrec_course.results: the measured results the notebooks read ship with the package."""

from __future__ import annotations

import pytest

from gnnrec_course.errors import CourseError
from gnnrec_course.results import RESULT_NAMES, load_results


def test_repair_ladder_results_have_every_step_over_three_seeds() -> None:
    ladder = load_results("repair_ladder")
    assert ladder["seeds"] == [0, 1, 2]
    steps = [row["key"] for row in ladder["ladder"]]
    assert steps[0] == "0" and steps[-1] == "7" and len(steps) == len(set(steps))
    for row in ladder["ladder"]:
        assert set(row["summary"]["test_rmse"]) >= {"mean", "std"}


def test_unknown_results_name_is_a_one_line_course_error() -> None:
    with pytest.raises(CourseError, match="ships repair_ladder") as info:
        load_results("repair-ladder")
    assert "\n" not in str(info.value) and str(info.value).startswith("No results named")
    assert RESULT_NAMES == ("repair_ladder",)
