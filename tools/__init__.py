"""Repository tooling: building and checking the student notebooks, running the course headless.

Not part of the installed ``gnnrec_course`` package: these modules need nbformat and nbclient
(the ``test`` extra) and a checkout of the repository. Run them from the repository root,
e.g. ``python -m tools.notebooks check`` or ``python -m tools.course_runner --html build/``.
"""
