"""Drift per nightly run: each model input against its training distribution, stored in the bundle.

The bundle stage stores ``drift/reference.json``: for every input a frozen model reads (the radiomics
features read, the clinical fields, the single-source scores and the fused risk) its distribution on
the development rows (training + internal validation). Each ``sonorisk score`` run compares the rows
it scored with it (population stability index, ``stats/psi.py``), records the PSI per input and the
share of quarantined rows per rule in its manifest, flags inputs at or above the threshold, and
writes ``_runs/<run_id>.html`` beside the manifest (``sonorisk runs show`` prints the same).
A run with fewer than ``min_rows`` scored rows records the PSI but flags nothing: on a handful of
rows PSI measures sampling noise, not drift.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from sonorisk.contracts.schema import ROW_KEY
from sonorisk.radiomics.harmonisation import FeatureHarmoniser
from sonorisk.risk.estimated import render_lines
from sonorisk.stats.psi import psi, reference_of

REFERENCE_FILE = "drift/reference.json"
DEFAULT_THRESHOLD = 0.25
DEFAULT_MIN_ROWS = 100
SCORE_COLUMNS = ("clinical_only", "rad_score", "radiomics_clinical_xgb", "dl_score", "fusion_risk")
GROUPS = ("image feature", "clinical field", "score")


def _values(frame: pl.DataFrame, column: str) -> list[Any]:
    return frame[column].to_list()


def development_reference(
    split: Path,
    features: Path,
    validated: Sequence[Path],
    scores: Path,
    read: list[str],
    fields: list[str],
    harmoniser: FeatureHarmoniser | None = None,
) -> dict[str, Any]:
    """``build_reference`` on the development rows (training + internal validation): the radiomics
    features the models ``read`` (harmonised where the models read them harmonised), the clinical
    ``fields`` they read, and every model's score."""
    development = pl.read_parquet(split).filter(pl.col("split") != "external").select(ROW_KEY)
    batch = [harmoniser.batch_column, *harmoniser.estimates.covariates] if harmoniser is not None else []
    wanted = list(dict.fromkeys((*ROW_KEY, *fields, *batch)))  # a protected covariate may be a field too
    clinical = pl.concat(
        [pl.read_parquet(p, columns=[c for c in wanted if c in pl.read_parquet_schema(p)]) for p in validated],
        how="diagonal_relaxed",
    ).join(development, on=ROW_KEY)
    feature_frame = pl.read_parquet(features, columns=[*ROW_KEY, *read]).join(development, on=ROW_KEY)
    if harmoniser is not None:
        feature_frame = _harmonised(feature_frame, clinical, harmoniser)
    score_frame = pl.read_parquet(scores).join(development, on=ROW_KEY)
    return build_reference(feature_frame, clinical, score_frame, read, fields)


def _harmonised(frame: pl.DataFrame, clinical: pl.DataFrame, harmoniser: FeatureHarmoniser) -> pl.DataFrame:
    """The development rows' features as the models read them (ComBat with the frozen estimates)."""
    column = harmoniser.batch_column
    wanted = [c for c in dict.fromkeys([column, *harmoniser.estimates.covariates]) if c in clinical.columns]
    joined = frame.select(ROW_KEY).join(
        clinical.select([*ROW_KEY, *wanted]).unique(ROW_KEY, keep="first"),
        on=ROW_KEY,
        how="left",
        maintain_order="left",
    )
    batches = joined[column].cast(pl.String).to_list() if column in joined.columns else [None] * frame.height
    rows = joined.select([c for c in wanted if c != column]).to_dicts()  # the protected covariates
    names = [n for n in harmoniser.features if n in frame.columns]
    values = harmoniser.narrowed(names).apply(frame.select(names).to_numpy().astype(float), batches, rows)[0]
    return frame.with_columns(pl.Series(n, values[:, j]) for j, n in enumerate(names))


def build_reference(
    features: pl.DataFrame,
    fields: pl.DataFrame,
    scores: pl.DataFrame,
    read_features: Iterable[str],
    clinical_fields: Iterable[str],
) -> dict[str, Any]:
    """Every input's distribution on the development rows (each frame holds those rows only)."""
    inputs: dict[str, Any] = {}
    for group, frame, columns in (
        ("image feature", features, read_features),
        ("clinical field", fields, clinical_fields),
        ("score", scores, SCORE_COLUMNS),
    ):
        for column in columns:
            if column in frame.columns and frame.height:
                inputs[column] = {"group": group} | reference_of(_values(frame, column))
    return {
        "rows": {"image feature": features.height, "clinical field": fields.height, "score": scores.height},
        "inputs": inputs,
    }


def run_drift(
    reference: Mapping[str, Any],
    frames: Mapping[str, pl.DataFrame],
    quarantine_by_rule: Mapping[str, int],
    rows_in: int,
    threshold: float = DEFAULT_THRESHOLD,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> dict[str, Any]:
    """PSI per input of the rows scored this run; ``frames`` maps each group to a frame of those rows."""
    inputs = {}
    judged = True
    for name, ref in reference["inputs"].items():
        frame = frames.get(ref["group"])
        if frame is None or name not in frame.columns or frame.height == 0:
            continue
        value = round(psi(ref, _values(frame, name)), 4)  # flagged on the value recorded and shown
        judged = judged and frame.height >= min_rows
        inputs[name] = {
            "group": ref["group"],
            "psi": value,
            "flagged": frame.height >= min_rows and value >= threshold,
            "rows": frame.height,
        }
    flagged = sorted((n for n, v in inputs.items() if v["flagged"]), key=lambda n: -inputs[n]["psi"])
    return {
        "threshold": threshold,
        "min_rows": min_rows,
        "judged": judged and bool(inputs),
        "flagged": flagged,
        "inputs": dict(sorted(inputs.items(), key=lambda item: -item[1]["psi"])),
        "quarantined_share_by_rule": {
            rule: round(count / rows_in, 4) for rule, count in sorted(quarantine_by_rule.items()) if rows_in
        },
    }


def _verdict(drift: Mapping[str, Any]) -> str:
    if not drift["inputs"]:
        return "no rows were scored in this run: nothing to compare"
    if not drift["judged"]:
        rows = max(v["rows"] for v in drift["inputs"].values())
        return f"{rows} rows scored, fewer than {drift['min_rows']}: PSI recorded, nothing flagged"
    if drift["flagged"]:
        return f"{len(drift['flagged'])} inputs drifted (PSI >= {drift['threshold']}): " + ", ".join(drift["flagged"])
    return f"no input drifted (every PSI < {drift['threshold']})"


def render_text(manifest: Mapping[str, Any]) -> str:
    """The run on a terminal: counts, the drift verdict, PSI per input, quarantine shares."""
    drift = manifest.get("drift")
    counts = manifest["counts"]
    lines = [
        f"run {manifest['run_id']}  scored at {manifest['scored_at']}",
        f"cohort {manifest['cohort']}  bundle {manifest['bundle_sha256'][:12]}",
        "rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
    ]
    if drift is None:
        lines.append("drift: not recorded (a run from before drift was recorded)")
        return "\n".join(
            [*lines, *_harmonisation_lines(manifest.get("harmonisation")), *render_lines(manifest.get("estimated"))]
        )
    lines.append(f"drift: {_verdict(drift)}")
    for group in GROUPS:
        members = {n: v for n, v in drift["inputs"].items() if v["group"] == group}
        if members:
            lines.append(f"  {group}s")
            width = max(len(n) for n in members)
            lines += [
                f"    {n:<{width}}  PSI {v['psi']:7.3f}{'  DRIFTED' if v['flagged'] else ''}"
                for n, v in members.items()
            ]
    shares = drift["quarantined_share_by_rule"]
    lines.append("quarantined by rule: " + (", ".join(f"{r} {s:.1%}" for r, s in shares.items()) or "none"))
    return "\n".join(
        [*lines, *_harmonisation_lines(manifest.get("harmonisation")), *render_lines(manifest.get("estimated"))]
    )


def _harmonisation_lines(record: Mapping[str, Any] | None) -> list[str]:
    """What ComBat did to the new rows, per batch (nothing for a bundle that does not harmonise)."""
    if not record:
        return []
    lines = [f"harmonisation (ComBat by {record['batch_column']}):"]
    for batch, done in record["batches"].items():
        source = f", estimates from {done['estimates']}" if done["estimates"] else ""
        lines.append(f"  {batch}: {done['rows']} rows, {done['harmonised']} harmonised{source}")
    return lines


def render_html(manifest: Mapping[str, Any]) -> str:
    """The same as ``render_text`` as a self-contained page: PSI as bars against the threshold."""
    drift = manifest["drift"]
    scale = max([drift["threshold"] * 2, *(v["psi"] for v in drift["inputs"].values())])
    rows = []
    for group in GROUPS:
        for name, v in drift["inputs"].items():
            if v["group"] != group:
                continue
            width = 100 * min(v["psi"], scale) / scale
            rows.append(
                f"<tr class='{'drift' if v['flagged'] else ''}'><td>{html.escape(group)}</td>"
                f"<td>{html.escape(name)}</td><td>{v['psi']:.3f}</td>"
                f"<td><div class='bar' style='width:{width:.1f}%'></div></td>"
                f"<td>{'drifted' if v['flagged'] else ''}</td></tr>"
            )
    mark = 100 * drift["threshold"] / scale
    shares = (
        "".join(
            f"<tr><td>{html.escape(r)}</td><td>{s:.1%}</td></tr>" for r, s in drift["quarantined_share_by_rule"].items()
        )
        or "<tr><td colspan=2>no row quarantined</td></tr>"
    )
    counts = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in manifest["counts"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SonoRisk run {html.escape(manifest["run_id"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 60em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }} td, th {{ padding: .2em .6em; text-align: left; }}
tr.drift {{ background: #fde2e1; }} td:nth-child(4) {{ width: 20em; position: relative;
  background: linear-gradient(to right, transparent {mark:.1f}%, #c0392b {mark:.1f}%, #c0392b calc({mark:.1f}% + 1px),
  transparent calc({mark:.1f}% + 1px)); }}
.bar {{ height: .8em; background: #2c7fb8; }} tr.drift .bar {{ background: #c0392b; }}
</style></head><body>
<h1>Nightly run {html.escape(manifest["run_id"])}</h1>
<p>Scored at {html.escape(manifest["scored_at"])}; cohort <code>{html.escape(manifest["cohort"])}</code>;
bundle <code>{html.escape(manifest["bundle_sha256"][:12])}</code>.</p>
<table>{counts}</table>
<h2>Drift against the training distribution</h2>
<p><strong>{html.escape(_verdict(drift))}</strong>. Population stability index per model input; the red
line is the threshold ({drift["threshold"]}).</p>
<table><tr><th>input</th><th>name</th><th>PSI</th><th></th><th></th></tr>{"".join(rows)}</table>
<h2>Quarantined rows by rule</h2>
<table><tr><th>rule</th><th>share of rows in</th></tr>{shares}</table>
<h2>Estimated performance (before outcomes)</h2>
<p>CBPE: the AUC each score should reach if the calibrated risk holds on these rows.</p>
<pre>{html.escape(chr(10).join(render_lines(manifest.get("estimated"))[1:]))}</pre>
</body></html>
"""
