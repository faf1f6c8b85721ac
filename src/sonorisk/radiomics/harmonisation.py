"""Harmonisation of radiomics features across batches (scanners, centres) for the radiomics model
family: ComBat (``stats/combat.py``) fitted on the rows a model is fitted on, so inside every CV fold
it sees that fold's training rows only, and applied with its frozen estimates to every other row.

At scoring time a batch the training never saw is estimated from the run's own rows against the
frozen standardisation once it has ``min_batch_rows`` complete rows; below that its rows are scored
unharmonised and flagged. ``study.batch_column`` names the batch (absent: no harmonisation);
``radiomics_model.harmonisation`` is ``none`` or ``combat``; ``radiomics_model.combat_covariates``
names clinical fields whose effect on the features ComBat keeps (a centre with larger tumours keeps
them). The estimates are JSON (``combat.json`` in the model folder, and so in the bundle).

Example:
    >>> x = np.array([[1.0, 5.0], [2.0, 7.0], [3.0, 6.0], [11.0, 1.0], [12.0, 3.0], [13.0, 2.0]])
    >>> fitted = FeatureHarmoniser.fit(x, ["a"] * 3 + ["b"] * 3, ["f", "g"], "scanner", min_batch_rows=2)
    >>> out, done = fitted.apply(x, ["a"] * 3 + ["b"] * 3)
    >>> bool(done.all()), round(float(out[3:, 0].mean() - out[:3, 0].mean()), 2)  # from 10.0 between the scanners
    (True, 0.08)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk.atomic_file import write_json
from sonorisk.stats.combat import CombatError, CombatEstimates, add_batch, fit_combat, harmonise
from sonorisk.stats.normalising import NormalisingTransform

METHODS = ("none", "combat")
TRANSFORMS = ("normalise", "none")
HARMONISER_FILE = "combat.json"


@dataclass(frozen=True)
class FeatureHarmoniser:
    estimates: CombatEstimates  # on the transformed scale where there is a transform
    batch_column: str
    min_batch_rows: int
    transform: NormalisingTransform | None = None  # features transformed before ComBat, back after

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        batches: Sequence[Any],
        names: Sequence[str],
        batch_column: str,
        min_batch_rows: int,
        transform: str = "none",
        covariates: Sequence[str] = (),
        rows: Sequence[Mapping[str, Any]] = (),
    ) -> FeatureHarmoniser:
        """ComBat estimates from the complete rows of ``x`` (rows with a missing feature, batch or
        covariate are left out of the estimate, not of the model); with ``transform: normalise`` each
        feature is first put through the normalising transform fitted on the same rows. The
        ``covariates`` (clinical fields of ``rows``, the rows of ``x``) keep their effect.

        Raises:
            CombatError: a batch with fewer than two complete rows, a feature constant within them,
                a covariate constant or confounded with the batches.
        """
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}, not {transform!r}")
        labels = _labels(batches)
        values = covariate_values(rows, covariates) if covariates else None
        complete = np.isfinite(x).all(axis=1) & np.array([b is not None for b in labels])
        if values is not None:
            complete &= np.isfinite(values).all(axis=1)
        fitted = NormalisingTransform.fit(x[complete], names) if transform == "normalise" else None
        kept = fitted.forward(x[complete]) if fitted is not None else x[complete]
        estimates = fit_combat(
            kept,
            [str(b) for b in np.asarray(labels, dtype=object)[complete]],
            list(names),
            covariates=values[complete] if values is not None else None,
            covariate_names=list(covariates),
        )
        return cls(estimates, batch_column, min_batch_rows, fitted)

    def covariates_of(self, rows: Sequence[Mapping[str, Any]] | None, n: int) -> np.ndarray | None:
        """The protected covariates of ``n`` rows (NaN where missing, all of them without ``rows``);
        None where none are protected."""
        if not self.estimates.covariates:
            return None
        return covariate_values(rows if rows is not None else [{}] * n, self.estimates.covariates)

    @property
    def features(self) -> list[str]:
        return list(self.estimates.features)

    def narrowed(self, features: Sequence[str]) -> FeatureHarmoniser:
        """The estimates of ``features`` only (each feature's are its own once fitted)."""
        at = [self.estimates.features.index(f) for f in features]
        estimates = CombatEstimates(
            list(features),
            self.estimates.grand_mean[at],
            self.estimates.pooled_sd[at],
            {b: v[at] for b, v in self.estimates.gamma.items()},
            {b: v[at] for b, v in self.estimates.delta.items()},
            self.estimates.reference,
            dict(self.estimates.rows),
            list(self.estimates.covariates),
            self.estimates.covariate_mean,
            self.estimates.beta[:, at] if self.estimates.covariates else np.zeros((0, len(at))),
        )
        transform = self.transform.narrowed(features) if self.transform is not None else None
        return replace(self, estimates=estimates, transform=transform)

    def known(self, batches: Sequence[Any]) -> np.ndarray:
        """Per row, whether its batch has estimates (so ``apply`` harmonises it)."""
        return np.array([b is not None and b in self.estimates.gamma for b in _labels(batches)], dtype=bool)

    def apply(
        self, x: np.ndarray, batches: Sequence[Any], rows: Sequence[Mapping[str, Any]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``x`` with the rows of known batches harmonised, and which rows were (others unchanged);
        ``rows`` (clinical fields, one per row of ``x``) give the protected covariates, if any."""
        labels = _labels(batches)
        known = self.known(batches)
        out = np.array(x, dtype=float, copy=True)
        if known.any():
            values = self.covariates_of(rows, len(x))
            harmonised = harmonise(
                self._forward(out[known]),
                [str(b) for b in np.asarray(labels, dtype=object)[known]],
                self.estimates,
                values[known] if values is not None else None,
            )
            out[known] = self.transform.inverse(harmonised) if self.transform is not None else harmonised
        return out, known

    def _forward(self, x: np.ndarray) -> np.ndarray:
        return self.transform.forward(x) if self.transform is not None else x

    def with_new_batches(
        self, x: np.ndarray, batches: Sequence[Any], rows: Sequence[Mapping[str, Any]] | None = None
    ) -> tuple[FeatureHarmoniser, dict[str, Any]]:
        """These estimates plus every unseen batch of these rows that has ``min_batch_rows`` complete
        rows (estimated from them against the frozen standardisation, with their protected
        covariates from ``rows``); a record per batch of the rows: how many, whether harmonised and
        where its estimates come from."""
        labels = _labels(batches)
        complete = np.isfinite(x).all(axis=1)
        values = self.covariates_of(rows, len(x))
        extended = self.estimates
        record: dict[str, Any] = {}
        for batch in sorted({b for b in labels if b is not None}):
            members = np.array([b == batch for b in labels])
            if batch in self.estimates.gamma:
                record[batch] = {"rows": int(members.sum()), "harmonised": True, "estimates": "training"}
                continue
            usable = members & complete
            if usable.sum() >= max(self.min_batch_rows, 2):
                try:
                    extended = add_batch(
                        extended,
                        self._forward(x[usable]),
                        batch,
                        covariates=values[usable] if values is not None else None,
                    )
                except CombatError as problem:
                    record[batch] = {"rows": int(members.sum()), "harmonised": False, "why": str(problem)}
                    continue
                record[batch] = {"rows": int(members.sum()), "harmonised": True, "estimates": "this run"}
            else:
                record[batch] = {
                    "rows": int(members.sum()),
                    "harmonised": False,
                    "why": f"a batch unseen in training with {int(usable.sum())} complete rows "
                    f"(at least {self.min_batch_rows} needed to estimate it)",
                }
        missing = sum(1 for b in labels if b is None)
        if missing:
            record["(no batch)"] = {"rows": missing, "harmonised": False, "why": f"no {self.batch_column} value"}
        return replace(self, estimates=extended), record

    def to_dict(self) -> dict[str, Any]:
        transform = {"transform": self.transform.to_dict()} if self.transform is not None else {}
        return (
            {"batch_column": self.batch_column, "min_batch_rows": self.min_batch_rows}
            | transform
            | (self.estimates.to_dict())
        )

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FeatureHarmoniser:
        estimates = CombatEstimates.from_dict(raw)
        transform = raw.get("transform")
        return cls(
            estimates,
            str(raw["batch_column"]),
            int(raw["min_batch_rows"]),
            NormalisingTransform.from_dict(transform, estimates.features) if transform is not None else None,
        )

    def save(self, folder: Path) -> Path:
        return write_json(folder / HARMONISER_FILE, self.to_dict(), sort_keys=False)

    @classmethod
    def load(cls, folder: Path) -> FeatureHarmoniser | None:
        """The folder's harmoniser, None where its models were fitted without one."""
        path = folder / HARMONISER_FILE
        return cls.from_dict(json.loads(path.read_text())) if path.is_file() else None


def covariate_values(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> np.ndarray:
    """(rows, covariates) as floats, NaN where a row lacks the field or it is not a number.

    Raises:
        CombatError: a covariate that holds text (ComBat protects numeric fields only).
    """
    out = np.full((len(rows), len(names)), np.nan)
    for i, row in enumerate(rows):
        for j, name in enumerate(names):
            value = row.get(name)
            if value is None:
                continue
            if isinstance(value, str) or not isinstance(value, (int, float, np.number)):
                raise CombatError(f"covariate {name!r} holds {value!r}: ComBat protects numeric fields only")
            out[i, j] = float(value)
    return out


def _labels(batches: Sequence[Any]) -> list[str | None]:
    return [None if b is None or (isinstance(b, float) and np.isnan(b)) or b == "" else str(b) for b in batches]
