"""Radiomics harmonisation (radiomics/harmonisation.py): the ComBat estimates of the final model and
of every out-of-fold model come from that model's training rows only (recorded at every fit, never
an internal-validation row); an unseen batch is estimated from a run's rows once it has enough of
them, else scored unharmonised and said so; the estimates travel with the models as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sonorisk.radiomics.harmonisation as harmonisation
from sonorisk.radiomics.harmonisation import HARMONISER_FILE, FeatureHarmoniser


def _study(n_persons: int = 60, seed: int = 1) -> dict[str, Any]:
    """Persons with one or two images; two scanners in training (S2 reads 1.5x brighter, +2), and
    internal-validation rows from both and from a third scanner (S3) training never saw."""
    rng = np.random.default_rng(seed)
    persons = [f"P{i:03d}" for i in range(n_persons) for _ in range(1 + i % 2)]
    n = len(persons)
    names = [f"original_firstorder_F{j}" for j in range(6)]
    outcome_of = {p: bool(rng.random() < 0.35) for p in set(persons)}
    y = np.array([outcome_of[p] for p in persons])
    x = rng.normal(size=(n, len(names))) + y[:, None] * 0.9
    person_index = {p: i for i, p in enumerate(dict.fromkeys(persons))}
    scanner = np.array(["S2" if person_index[p] % 3 == 1 else "S1" for p in persons], dtype=object)
    internal = np.array([person_index[p] >= int(0.7 * n_persons) for p in persons])
    scanner[internal & (np.arange(n) % 4 == 0)] = "S3"
    scale = {"S1": 1.0, "S2": 1.5, "S3": 0.7}
    shift = {"S1": 0.0, "S2": 2.0, "S3": -1.0}
    x = np.array([row * scale[s] + shift[s] for row, s in zip(x, scanner, strict=True)])
    split = np.where(internal, "internal_validation", "training")
    size_of = {p: float(rng.normal(20, 5)) for p in dict.fromkeys(persons)}  # a clinical field ComBat may protect
    rows = [{"age": 50, "tumor_size_mm": size_of[p]} for p in persons]
    return {"persons": persons, "y": y, "x": x, "names": names, "scanner": list(scanner), "split": split, "rows": rows}


@pytest.mark.parametrize("covariates", [(), ("tumor_size_mm",)])
def test_every_fit_estimates_combat_from_its_own_training_rows_only(
    monkeypatch: pytest.MonkeyPatch, covariates: tuple[str, ...]
) -> None:
    study = _study()
    x, split = study["x"], study["split"]
    fits: list[np.ndarray] = []  # the rows each normalising transform was fitted on
    transforms: list[Any] = []
    combat_fits: list[np.ndarray] = []  # the (transformed) rows each ComBat was fitted on
    original_combat, original_transform = harmonisation.fit_combat, harmonisation.NormalisingTransform.fit

    covariate_fits: list[np.ndarray] = []  # the covariates each ComBat read, where it protects some

    def record_combat(values: np.ndarray, batch: Any, features: Any, **kwargs: Any) -> Any:
        combat_fits.append(np.array(values, copy=True))
        if kwargs.get("covariate_names"):
            covariate_fits.append(np.array(kwargs["covariates"], copy=True))
        return original_combat(values, batch, features, **kwargs)

    def record_transform(values: np.ndarray, features: Any) -> Any:
        fits.append(np.array(values, copy=True))
        transforms.append(original_transform(values, features))
        return transforms[-1]

    monkeypatch.setattr(harmonisation, "fit_combat", record_combat)
    monkeypatch.setattr(harmonisation.NormalisingTransform, "fit", record_transform)
    models = _family(study, covariates)
    training = np.flatnonzero(split == "training")
    # ComBat of each fit read exactly the rows its transform was fitted on, transformed.
    assert len(combat_fits) == len(fits)
    for raw, transform, combat_rows in zip(fits, transforms, combat_fits, strict=True):
        np.testing.assert_array_equal(transform.forward(raw), combat_rows)

    # The recorded rows hold the robust features' values: each is found again in x.
    where = {tuple(row): i for i, row in enumerate(x[:, _columns_of(x, fits[0])])}
    fitted_rows = [{where[tuple(row)] for row in values} for values in fits]
    assert len(fitted_rows) == 1 + 4  # the final family, then one per out-of-fold model (oof_folds 4)
    final, *folds = fitted_rows
    assert final == set(training.tolist())  # every training row, no internal-validation row
    held = [final - fold for fold in folds]
    assert all(h and not (h & fold) for h, fold in zip(held, folds, strict=True))
    assert sorted(i for h in held for i in h) == sorted(final)  # the held parts partition training
    persons = study["persons"]
    for fold, part in zip(folds, held, strict=True):  # a held-out person's images never inform its fold's ComBat
        assert not {persons[i] for i in part} & {persons[i] for i in fold}
    assert models.harmoniser is not None and models.harmoniser.features == models.features
    assert sorted(models.harmoniser.estimates.gamma) == ["S1", "S2"]  # S3 never joins the saved family
    if covariates:  # the protected sizes each ComBat read are those of its own training rows
        sizes = [{study["rows"][i]["tumor_size_mm"] for i in rows} for rows in fitted_rows]
        assert [set(c[:, 0].tolist()) for c in covariate_fits] == sizes
        assert models.harmoniser.estimates.covariates == ["tumor_size_mm"]


def _columns_of(x: np.ndarray, recorded: np.ndarray) -> list[int]:
    """The columns of ``x`` the recorded matrix holds (the robust features), in its order."""
    return [next(j for j in range(x.shape[1]) if np.isin(column, x[:, j]).all()) for column in recorded.T]


def test_an_unseen_batch_is_estimated_from_enough_rows_else_left_and_said_so() -> None:
    study = _study(n_persons=90)
    x, scanner, split = study["x"], np.array(study["scanner"]), study["split"]
    training = split == "training"
    fitted = FeatureHarmoniser.fit(x[training], list(scanner[training]), study["names"], "scanner", min_batch_rows=8)
    night = np.vstack([x[scanner == "S3"][:8], x[scanner == "S1"][:3]])
    batches = ["S3"] * 8 + ["S1"] * 2 + [None]
    extended, record = fitted.with_new_batches(night, batches)
    assert record["S3"] == {"rows": 8, "harmonised": True, "estimates": "this run"}
    assert record["S1"] == {"rows": 2, "harmonised": True, "estimates": "training"}
    assert record["(no batch)"]["harmonised"] is False
    out, done = extended.apply(night, batches)
    assert done.tolist() == [True] * 10 + [False] and np.array_equal(out[10], night[10])
    few, record = fitted.with_new_batches(night[:7], ["S3"] * 7)
    assert record["S3"]["harmonised"] is False and "7 complete rows" in record["S3"]["why"]
    assert "S3" not in few.estimates.gamma and not few.known(["S3"]).any()


def test_the_family_saves_and_loads_its_estimates_and_reads_harmonised_features(tmp_path: Path) -> None:
    import json

    from sonorisk.radiomics.models import RadiomicsModels

    study = _study()
    x, names, split = study["x"], study["names"], study["split"]
    training = split == "training"
    harmoniser = FeatureHarmoniser.fit(x[training], list(np.array(study["scanner"])[training]), names, "scanner", 20)
    again = FeatureHarmoniser.from_dict(json.loads(json.dumps(harmoniser.to_dict())))
    np.testing.assert_array_equal(again.apply(x, study["scanner"])[0], harmoniser.apply(x, study["scanner"])[0])
    assert FeatureHarmoniser.load(tmp_path / "elsewhere") is None

    models = _family(study)
    models.save(tmp_path / "models")
    loaded = RadiomicsModels.load(tmp_path / "models")
    assert loaded.harmoniser is not None and loaded.harmoniser.to_dict() == models.harmoniser.to_dict()
    rows = [{"age": 50} for _ in split]
    columns = x[:, [names.index(f) for f in models.features]]
    for name, values in models.predict(columns, rows, study["scanner"]).items():
        np.testing.assert_allclose(loaded.predict(columns, rows, study["scanner"])[name], values, rtol=1e-12)
    # Harmonised features are what the family reads: unharmonised ones score differently.
    plain = loaded.predict(columns, rows, [None] * len(rows))["rad_score"]
    assert not np.allclose(plain, models.predict(columns, rows, study["scanner"])["rad_score"])
    card = json.loads((tmp_path / "models" / HARMONISER_FILE).read_text())
    card["features"] = card["features"][::-1]
    (tmp_path / "models" / HARMONISER_FILE).write_text(json.dumps(card))
    with pytest.raises(ValueError, match="not for the Rad Score's features"):
        RadiomicsModels.load(tmp_path / "models")


def _family(study: dict[str, Any], covariates: tuple[str, ...] = ()) -> Any:
    from sonorisk.radiomics.model_fit import Batches, fit_radiomics_models
    from tests.small_radiomics import perturbed_robustness, small_params

    x, names, split = study["x"], study["names"], study["split"]
    robustness = perturbed_robustness(x, np.flatnonzero(split == "training"), np.random.default_rng(3))
    params = small_params(harmonisation="combat", combat_covariates=covariates)
    rows = study["rows"]
    batches = Batches("scanner", study["scanner"])
    return fit_radiomics_models(x, names, robustness, rows, split, study["y"], study["persons"], params, batches).models


def _night(study: dict[str, Any], night: np.ndarray, fields: dict[str, list], rng: np.random.Generator) -> tuple:
    """A night's validated rows (``fields`` besides the key), its feature table, DL scores, and a small
    fusion model fitted on random scores: the inputs of ``risk/scores.frozen_scores``."""
    import polars as pl
    import pyarrow as pa

    from sonorisk.fusion.fit import FusionParams, fit_fusion

    n = len(night)
    ids = [f"N-{i:03d}" for i in range(n)]
    validated = pl.DataFrame({"cohort_id": ["tonight"] * n, "patient_id": ids} | fields)
    features = pa.table(
        {"cohort_id": ["tonight"] * n, "patient_id": ids, "status": ["ok"] * n}
        | {name: night[:, j] for j, name in enumerate(study["names"])}
    )
    dl = pl.DataFrame({"cohort_id": ["tonight"] * n, "patient_id": ids, "dl_score": rng.uniform(0.1, 0.9, n)})
    train = rng.normal(size=200)
    outcome = rng.random(200) < 1 / (1 + np.exp(-train))
    fusion = fit_fusion(
        [{"age": 50}] * 200, {"rad_score": train, "dl_score": rng.uniform(0.1, 0.9, 200)}, outcome, FusionParams()
    ).model
    return validated, features, dl, fusion


def test_frozen_scoring_harmonises_known_and_large_enough_unseen_batches_and_says_which(tmp_path: Path) -> None:
    """Nightly scoring's path (the family as it scores the run's rows, then risk/scores.frozen_scores)
    with a family that harmonises: rows of a
    training scanner and of an unseen one with enough rows are harmonised (their Rad Score is the
    family's on the harmonised features); a handful of rows from another unseen scanner is not, and
    the score table says so per row."""
    from sonorisk.risk.scores import feature_batches, frozen_scores

    study = _study()
    models = _family(study)
    assert models.harmoniser is not None
    rng = np.random.default_rng(8)
    n_unseen, n_few = 30, 3  # min_batch_rows is 20
    night = np.vstack([study["x"][:10], study["x"][:n_unseen] * 0.6 - 1.5, study["x"][:n_few] * 1.3 + 3])
    scanners = ["S1"] * 10 + ["S9"] * n_unseen + ["S7"] * n_few
    n = len(scanners)
    fields = {"center": ["B"] * n, "scanner": scanners, "age": [50] * n}
    validated, features, dl, fusion = _night(study, night, fields, rng)

    family = models.for_rows(models.feature_matrix(features), feature_batches(features, validated, "scanner"))
    scores = frozen_scores(validated, features, dl, family, fusion, None)
    assert scores["batch"].to_list() == scanners
    assert scores["harmonised"].to_list() == [True] * (10 + n_unseen) + [False] * n_few
    columns = night[:, [study["names"].index(f) for f in models.features]]
    extended, _ = models.harmoniser.with_new_batches(columns, scanners)
    expected = models.rad_score.score(extended.apply(columns, scanners)[0])
    np.testing.assert_allclose(scores["rad_score"].to_numpy(), expected, rtol=1e-12)
    unharmonised = models.rad_score.score(columns[-n_few:])
    np.testing.assert_allclose(scores["rad_score"].to_numpy()[-n_few:], unharmonised, rtol=1e-12)


def test_a_protected_covariate_keeps_a_new_scanners_larger_tumours() -> None:
    """One feature = 0.3 x tumour size + noise. Training scanner S1: sizes about 20 mm. A new scanner
    S9 reads 2 units higher and its centre has larger tumours (about 26 mm). Harmonised without
    covariates, S9's mean lands on S1's (0.3 x 20 = 6): the 1.8 its tumours earned is gone. With the
    size protected, only the scanner's 2 goes: the mean stays near 0.3 x 26 = 7.8."""
    rng = np.random.default_rng(12)
    size_1, size_9 = rng.normal(20, 4, 400), rng.normal(26, 4, 400)
    x_1 = (0.3 * size_1 + rng.normal(0, 1, 400))[:, None]
    x_9 = (0.3 * size_9 + 2 + rng.normal(0, 1, 400))[:, None]
    rows_1 = [{"tumor_size_mm": v} for v in size_1]
    rows_9 = [{"tumor_size_mm": v} for v in size_9]
    means = {}
    for covariates in ((), ("tumor_size_mm",)):
        fitted = FeatureHarmoniser.fit(x_1, ["S1"] * 400, ["f"], "scanner", 20, covariates=covariates, rows=rows_1)
        extended, record = fitted.with_new_batches(x_9, ["S9"] * 400, rows_9)
        assert record["S9"]["harmonised"]
        means[covariates] = float(extended.apply(x_9, ["S9"] * 400, rows_9)[0].mean())
    # Exactly (the new batch's location comes from these very rows): the training mean, plus with
    # protection the size difference times the training rows' least-squares slope.
    slope = np.polyfit(size_1, x_1[:, 0], 1)[0]
    assert slope == pytest.approx(0.3, abs=0.05)
    assert means[()] == pytest.approx(x_1.mean(), rel=1e-9)
    assert means[("tumor_size_mm",)] == pytest.approx(x_1.mean() + slope * (size_9.mean() - size_1.mean()), rel=1e-9)
    # A row without the field counts as the training mean; a field holding text is refused.
    fitted = FeatureHarmoniser.fit(x_1, ["S1"] * 400, ["f"], "scanner", 20, covariates=["tumor_size_mm"], rows=rows_1)
    missing, _ = fitted.apply(x_1[:2], ["S1", "S1"], [{}, {"tumor_size_mm": None}])
    mean_row, _ = fitted.apply(x_1[:2], ["S1", "S1"], [{"tumor_size_mm": float(size_1.mean())}] * 2)
    np.testing.assert_allclose(missing, mean_row, rtol=1e-12)
    with pytest.raises(harmonisation.CombatError, match="numeric fields only"):
        fitted.apply(x_1[:1], ["S1"], [{"tumor_size_mm": "large"}])


def test_frozen_scoring_reads_the_protected_covariates_of_each_row(tmp_path: Path) -> None:
    """Nightly scoring's path with a family that protects tumour size: the unseen scanner's rows are
    harmonised with their own sizes (the Rad Score is the family's on features harmonised with those
    rows' clinical fields, not with the training mean)."""
    from sonorisk.risk.scores import feature_batches, feature_rows, frozen_scores

    study = _study()
    models = _family(study, ("tumor_size_mm",))
    rng = np.random.default_rng(9)
    n = 40
    night = study["x"][:n] * 0.6 - 1.5
    sizes = rng.normal(30, 5, n)
    fields = {"center": ["B"] * n, "scanner": ["S9"] * n, "age": [50] * n, "tumor_size_mm": sizes.tolist()}
    validated, features, dl, fusion = _night(study, night, fields, rng)
    rows = feature_rows(features, validated)
    assert [r["tumor_size_mm"] for r in rows] == sizes.tolist()
    family = models.for_rows(models.feature_matrix(features), feature_batches(features, validated, "scanner"), rows)
    scores = frozen_scores(validated, features, dl, family, fusion, None)
    columns = night[:, [study["names"].index(f) for f in models.features]]
    extended, _ = models.harmoniser.with_new_batches(columns, ["S9"] * n, rows)
    expected = models.rad_score.score(extended.apply(columns, ["S9"] * n, rows)[0])
    np.testing.assert_allclose(scores["rad_score"].to_numpy(), expected, rtol=1e-12)
    without = models.rad_score.score(extended.apply(columns, ["S9"] * n, [{}] * n)[0])
    assert not np.allclose(scores["rad_score"].to_numpy(), without)


def test_the_drift_reference_reads_development_features_harmonised_with_their_own_covariates(tmp_path: Path) -> None:
    """The bundle's drift reference when the protected covariate is also a clinical field drift
    watches: each development row's features are harmonised with its own tumour size, and the field
    itself is in the reference once."""
    import polars as pl

    from sonorisk.risk.drift import development_reference
    from sonorisk.stats.psi import reference_of

    study = _study()
    models = _family(study, ("tumor_size_mm",))
    n = len(study["persons"])
    ids = {"cohort_id": ["c"] * n, "patient_id": [f"R{i:03d}" for i in range(n)]}
    split = np.where(np.arange(n) % 10 == 9, "external", study["split"])  # a few rows drift never reads
    pl.DataFrame(ids | {"split": split}).write_parquet(tmp_path / "split.parquet")
    pl.DataFrame(ids | {name: study["x"][:, j] for j, name in enumerate(study["names"])}).write_parquet(
        tmp_path / "features.parquet"
    )
    sizes = [r["tumor_size_mm"] for r in study["rows"]]
    pl.DataFrame(ids | {"scanner": study["scanner"], "tumor_size_mm": sizes, "age": [50] * n}).write_parquet(
        tmp_path / "validated.parquet"
    )
    pl.DataFrame(ids | {"rad_score": np.linspace(0, 1, n)}).write_parquet(tmp_path / "scores.parquet")

    reference = development_reference(
        tmp_path / "split.parquet",
        tmp_path / "features.parquet",
        [tmp_path / "validated.parquet"],
        tmp_path / "scores.parquet",
        list(models.features),
        ["tumor_size_mm", "age"],
        models.harmoniser,
    )
    keep = split != "external"
    columns = study["x"][keep][:, [study["names"].index(f) for f in models.features]]
    batches = [s for s, k in zip(study["scanner"], keep, strict=True) if k]
    own = [r for r, k in zip(study["rows"], keep, strict=True) if k]
    harmonised = models.harmoniser.apply(columns, batches, own)[0]
    at_mean = models.harmoniser.apply(columns, batches, [{}] * len(own))[0]
    for j, name in enumerate(models.features):
        assert reference["inputs"][name] == {"group": "image feature"} | reference_of(harmonised[:, j].tolist())
    assert any(
        reference["inputs"][name] != {"group": "image feature"} | reference_of(at_mean[:, j].tolist())
        for j, name in enumerate(models.features)
    )
    assert reference["inputs"]["tumor_size_mm"]["group"] == "clinical field"
    assert reference["rows"]["image feature"] == int(keep.sum())
