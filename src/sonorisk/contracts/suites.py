"""Run the Great Expectations suites of ``data_contracts/cohort/`` and turn results into row verdicts.

The suites are GE 1.x JSON files versioned in git; each expectation's ``meta.rule`` names the rule
a quarantine reason carries. Rows are identified through a ``_row`` index column
(``unexpected_index_column_names``), so every failing row gets every reason.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sonorisk.atomic_file import write_text
from sonorisk.contracts.reasons import Reason, shown_value
from sonorisk.paths import COHORT_CONTRACT_DIR

ROW_INDEX = "_row"
SUITE_NAMES = ("cohort", "clinical")


@dataclass(frozen=True)
class SuiteOutcome:
    """Reasons per failing row, and per suite whether it passed, for the summary."""

    reasons: dict[int, list[Reason]]
    suite_success: dict[str, bool]
    evaluated: dict[str, int]


def suite_path(name: str, contracts: Path = COHORT_CONTRACT_DIR) -> Path:
    return contracts / f"{name}.suite.json"


def load_suite_spec(name: str, contracts: Path = COHORT_CONTRACT_DIR) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(suite_path(name, contracts).read_text())
    return spec


def _quiet_context(docs_dir: Path | None) -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name="sonorisk",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir.resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return context


def run_suites(
    frame: pd.DataFrame,
    suites: tuple[str, ...],
    run_date: dt.date,
    docs_dir: Path | None = None,
    contracts: Path = COHORT_CONTRACT_DIR,
) -> SuiteOutcome:
    """Validate ``frame`` (which must carry ``_row``) against the named suites.

    Args:
        frame: the non-image columns of the cohort plus the ``_row`` index.
        suites: which suites to apply (``cohort`` always; ``clinical`` when clinical fields exist).
        run_date: the date "not in the future" is judged against.
        docs_dir: where to build GE Data Docs HTML; None builds none.
        contracts: the folder of the suites (a bundle's copy when scoring).

    Raises:
        RuntimeError: an expectation raised instead of evaluating (a contract or GE defect).
    """
    import great_expectations as gx

    context = _quiet_context(docs_dir)
    batch_definition = (
        context.data_sources.add_pandas("cohort")
        .add_dataframe_asset("rows")
        .add_batch_definition_whole_dataframe("all")
    )
    definitions = []
    for name in suites:
        suite = context.suites.add(gx.ExpectationSuite(**load_suite_spec(name, contracts)))
        definitions.append(
            context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_definition, suite=suite))
        )
    actions: list[Any] = [gx.checkpoint.UpdateDataDocsAction(name="data_docs")] if docs_dir is not None else []
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name="cohort_contract",
            validation_definitions=definitions,
            actions=actions,
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_INDEX]},
        )
    )
    from great_expectations.core.run_identifier import RunIdentifier

    # The run named by its date, not by the clock: the Data Docs of a rerun have the same bytes.
    run_time = dt.datetime.combine(run_date, dt.time(), tzinfo=dt.UTC)
    result = checkpoint.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters={"run_date": run_date.isoformat()},
        run_id=RunIdentifier(run_name=f"cohort_contract-{run_date.isoformat()}", run_time=run_time),
    )
    if docs_dir is not None:
        normalise_docs(docs_dir, run_time.strftime("%Y%m%dT%H%M%S.%fZ"))
    reasons: dict[int, list[Reason]] = defaultdict(list)
    success: dict[str, bool] = {}
    evaluated: dict[str, int] = {}
    for suite_result in result.run_results.values():
        suite_name = suite_result.suite_name
        success[suite_name] = bool(suite_result.success)
        evaluated[suite_name] = len(suite_result.results)
        for expectation_result in suite_result.results:
            config = expectation_result.expectation_config
            info = expectation_result.exception_info or {}
            if info.get("raised_exception"):
                raise RuntimeError(
                    f"contract {suite_name}: expectation {config.type} on "
                    f"{config.kwargs.get('column')} raised: {info.get('exception_message')}"
                )
            column = str(config.kwargs.get("column"))
            rule = str((config.meta or {}).get("rule", config.type))
            for hit in expectation_result.result.get("unexpected_index_list") or []:
                reasons[int(hit[ROW_INDEX])].append(
                    Reason(column, rule, shown_value(_plain(hit.get(column))), suite_name)
                )
    return SuiteOutcome(dict(reasons), success, evaluated)


_CLOCK = re.compile(r"\d{8}T\d{6}\.\d{6}Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def normalise_docs(docs_dir: Path, run_time: str) -> None:
    """Make GE's Data Docs a function of the validation only: GE stamps each page with the clock
    (validation time, an image URL's cache buster) and gives collapsible blocks random uuid4 ids.
    Timestamps become the run's date; each uuid becomes its order of appearance in the page, which
    keeps every link between a toggle and its block.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> page = folder / "a.html"
        >>> _ = page.write_text('<a href="#b-7c9e6679-7425-40de-944b-e07fc1f90ae7">20261202T140840.183922Z</a>')
        >>> normalise_docs(folder, "20261201T000000.000000Z")
        >>> page.read_text()
        '<a href="#b-00000000-0000-4000-8000-000000000001">20261201T000000.000000Z</a>'
    """
    for page in sorted(docs_dir.rglob("*.html")):
        text = page.read_text()
        order: dict[str, str] = {}
        for found in _UUID.findall(text):
            order.setdefault(found, f"00000000-0000-4000-8000-{len(order) + 1:012d}")
        fixed = _CLOCK.sub(run_time, text)
        for found, replacement in order.items():
            fixed = fixed.replace(found, replacement)
        if fixed != text:
            write_text(page, fixed)


def _plain(value: Any) -> Any:
    """NaN and pandas' missing markers read as null in a reason."""
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value.item() if hasattr(value, "item") else value
