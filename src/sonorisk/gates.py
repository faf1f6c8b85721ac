"""Study-level problems, and how a stage reports them: one line naming the problem, exit status 2.

A study that cannot run (a configured centre with no valid rows, a split with one outcome class, a
column that does not exist) must stop the stage with a sentence a data engineer can act on, never a
traceback and never an empty result carried on downstream.

Example:
    >>> run_stage("split", lambda: (_ for _ in ()).throw(StudyError("centre 'X' has no valid rows")))
    Traceback (most recent call last):
    ...
    SystemExit: 2
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class StudyError(ValueError):
    """The study's configuration and its data do not fit together."""


def run_stage(name: str, main: Callable[[], object]) -> None:
    """Run a stage's ``main``; a study, cohort or file problem ends it with one line on stderr.

    Raises:
        SystemExit: status 2 on such a problem.
    """
    try:
        main()
    except (ValueError, FileNotFoundError) as problem:  # StudyError, CohortError, ParamsError, BundleError
        print(f"stage {name}: error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
