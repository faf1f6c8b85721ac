"""The deep-learning scoring job, shared by the DVC stage ``dl_score`` and ``sonorisk dl-score``:
every row of some cohorts scored with a model folder on Ray Data."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DlScoreParams:
    """The ``dl_score:`` section of params.yaml."""

    batch_size: int = 64  # crops per forward pass


def score_job(
    cohorts: list[Path],
    model_dir: Path,
    out: Path,
    batch_size: int = 64,
    actors: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every row of ``cohorts`` on Ray Data (Ray started here unless already running)."""
    from sonorisk.deep.batch_scoring import score_cohorts
    from sonorisk.deep.model_io import verify_model
    from sonorisk.runtime import ray_session

    verify_model(model_dir)  # a missing or altered model fails here, in one line, before Ray starts
    for cohort in cohorts:
        if not cohort.exists():
            raise FileNotFoundError(f"{cohort} does not exist")
    start = time.perf_counter()
    with ray_session():
        summary = score_cohorts(cohorts, model_dir, out, batch_size=batch_size, actors=actors, progress=progress)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    return summary
