"""Self-checks for the course's exercises: one module per notebook, all re-exported here.

Each ``check_*`` function returns the function the rest of the notebook should use: the
learner's when it passes, the package's reference when the exercise is still a stub or the
answer is wrong (with a hint); so a notebook always rebinds, ``fn = checks.check_fn(fn)``.
``GNNREC_STRICT_CHECKS=1`` makes wrong answers and stubs raise instead (for grading); see
:mod:`gnnrec_course.checks.common`.
"""

from gnnrec_course.checks.common import run_check
from gnnrec_course.checks.nb01 import *  # noqa: F403
from gnnrec_course.checks.nb02 import *  # noqa: F403
from gnnrec_course.checks.nb03 import *  # noqa: F403
from gnnrec_course.checks.nb04 import *  # noqa: F403
from gnnrec_course.checks.nb04_branches import *  # noqa: F403
from gnnrec_course.checks.nb05 import *  # noqa: F403
from gnnrec_course.checks.nb06 import *  # noqa: F403
from gnnrec_course.checks.nb07 import *  # noqa: F403

__all__ = ["run_check"]
