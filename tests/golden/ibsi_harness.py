"""The IBSI-1 digital phantom through the project's radiomics settings, mapped to IBSI features.

The project extracts texture in 2-D (one ultrasound frame per case), so the phantom is handed to
pyradiomics slice by slice as 2-D images, exactly as a B-mode frame is, and texture features are
averaged over slices: IBSI's "2D, averaged" aggregation (per-slice matrices, directions averaged)
and its "2D" zone / NGTDM / NGLDM families. Intensity statistics and the intensity histogram are
computed on the whole ROI. Discretisation maps to IBSI's setting for the phantom (its grey levels
1..6 are already discrete: fixed bin width 1); the project's resampling and filters do not apply
(the IBSI-1 phantom defines no filters). Morphology, local intensity, intensity-volume histogram and
distance-zone features are not computed by pyradiomics (or need a 3-D mesh a 2-D frame lacks).

    python -m tests.golden.ibsi_harness docs/ibsi.md     # rewrite the table in the docs
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk.paths import SHARED_DATA_DIR
from sonorisk.radiomics.extract import build_extractor, extract_images

IBSI_DIR = SHARED_DATA_DIR / "ibsi"
REFERENCE_CSV = IBSI_DIR / "reference_values" / "ibsi_1_reference_values_digital_phantom.csv"
PHANTOM_IMAGE = IBSI_DIR / "ibsi_1_digital_phantom" / "nifti" / "image" / "phantom.nii.gz"
PHANTOM_MASK = IBSI_DIR / "ibsi_1_digital_phantom" / "nifti" / "mask" / "mask.nii.gz"

PHANTOM_SETTINGS = {
    "binWidth": 1,
    "label": 1,
    "distances": [1],
    "symmetricalGLCM": True,
    "gldm_a": 0,
    "minimumROIDimensions": 1,
    "additionalInfo": False,
}

_STATS = {
    "mean": "Mean",
    "var": "Variance",
    "skew": "Skewness",
    "kurt": "Kurtosis",
    "median": "Median",
    "min": "Minimum",
    "p10": "10Percentile",
    "p90": "90Percentile",
    "max": "Maximum",
    "iqr": "InterquartileRange",
    "range": "Range",
    "mad": "MeanAbsoluteDeviation",
    "rmad": "RobustMeanAbsoluteDeviation",
    "energy": "Energy",
    "rms": "RootMeanSquared",
    "entropy": "Entropy",
    "uniformity": "Uniformity",
}
_TEXTURE = {
    "cm": (
        "glcm",
        {
            "joint_max": "MaximumProbability",
            "joint_avg": "JointAverage",
            "joint_var": "SumSquares",
            "joint_entr": "JointEntropy",
            "diff_avg": "DifferenceAverage",
            "diff_var": "DifferenceVariance",
            "diff_entr": "DifferenceEntropy",
            "sum_avg": "SumAverage",
            "sum_entr": "SumEntropy",
            "energy": "JointEnergy",
            "contrast": "Contrast",
            "dissimilarity": "DifferenceAverage",
            "inv_diff": "Id",
            "inv_diff_norm": "Idn",
            "inv_diff_mom": "Idm",
            "inv_diff_mom_norm": "Idmn",
            "inv_var": "InverseVariance",
            "corr": "Correlation",
            "auto_corr": "Autocorrelation",
            "clust_tend": "ClusterTendency",
            "clust_shade": "ClusterShade",
            "clust_prom": "ClusterProminence",
            "info_corr1": "Imc1",
            "info_corr2": "Imc2",
        },
    ),
    "rlm": (
        "glrlm",
        {
            "sre": "ShortRunEmphasis",
            "lre": "LongRunEmphasis",
            "lgre": "LowGrayLevelRunEmphasis",
            "hgre": "HighGrayLevelRunEmphasis",
            "srlge": "ShortRunLowGrayLevelEmphasis",
            "srhge": "ShortRunHighGrayLevelEmphasis",
            "lrlge": "LongRunLowGrayLevelEmphasis",
            "lrhge": "LongRunHighGrayLevelEmphasis",
            "glnu": "GrayLevelNonUniformity",
            "glnu_norm": "GrayLevelNonUniformityNormalized",
            "rlnu": "RunLengthNonUniformity",
            "rlnu_norm": "RunLengthNonUniformityNormalized",
            "r_perc": "RunPercentage",
            "gl_var": "GrayLevelVariance",
            "rl_var": "RunVariance",
            "rl_entr": "RunEntropy",
        },
    ),
    "szm": (
        "glszm",
        {
            "sze": "SmallAreaEmphasis",
            "lze": "LargeAreaEmphasis",
            "lgze": "LowGrayLevelZoneEmphasis",
            "hgze": "HighGrayLevelZoneEmphasis",
            "szlge": "SmallAreaLowGrayLevelEmphasis",
            "szhge": "SmallAreaHighGrayLevelEmphasis",
            "lzlge": "LargeAreaLowGrayLevelEmphasis",
            "lzhge": "LargeAreaHighGrayLevelEmphasis",
            "glnu": "GrayLevelNonUniformity",
            "glnu_norm": "GrayLevelNonUniformityNormalized",
            "zsnu": "SizeZoneNonUniformity",
            "zsnu_norm": "SizeZoneNonUniformityNormalized",
            "z_perc": "ZonePercentage",
            "gl_var": "GrayLevelVariance",
            "zs_var": "ZoneVariance",
            "zs_entr": "ZoneEntropy",
        },
    ),
    "ngt": (
        "ngtdm",
        {
            "coarseness": "Coarseness",
            "contrast": "Contrast",
            "busyness": "Busyness",
            "complexity": "Complexity",
            "strength": "Strength",
        },
    ),
    "ngl": (
        "gldm",
        {
            "lde": "SmallDependenceEmphasis",
            "hde": "LargeDependenceEmphasis",
            "lgce": "LowGrayLevelEmphasis",
            "hgce": "HighGrayLevelEmphasis",
            "ldlge": "SmallDependenceLowGrayLevelEmphasis",
            "ldhge": "SmallDependenceHighGrayLevelEmphasis",
            "hdlge": "LargeDependenceLowGrayLevelEmphasis",
            "hdhge": "LargeDependenceHighGrayLevelEmphasis",
            "glnu": "GrayLevelNonUniformity",
            "dcnu": "DependenceNonUniformity",
            "dcnu_norm": "DependenceNonUniformityNormalized",
            "gl_var": "GrayLevelVariance",
            "dc_var": "DependenceVariance",
            "dc_entr": "DependenceEntropy",
        },
    ),
}
_TWO_D_TAGS = {"cm": "_2D_avg", "rlm": "_2D_avg", "szm": "_2D", "ngt": "_2D", "ngl": "_2D"}


@dataclass(frozen=True)
class IbsiRow:
    tag: str
    family: str
    feature: str
    reference: float | None
    tolerance: float | None
    ours: float | None
    pyradiomics_name: str | None
    note: str

    @property
    def within(self) -> bool:
        """IBSI reference values carry 3 significant digits: ours is rounded alike, then compared."""
        if self.ours is None or self.reference is None or self.tolerance is None:
            return False
        return abs(_three_significant(self.ours) - self.reference) <= self.tolerance + 1e-9 * abs(self.reference)


def _three_significant(value: float) -> float:
    return float(f"{value:.3g}")


def _phantom() -> tuple[Any, Any]:
    import SimpleITK as sitk

    return sitk.ReadImage(str(PHANTOM_IMAGE)), sitk.ReadImage(str(PHANTOM_MASK))


def _first_order(image: Any, mask: Any) -> dict[str, float]:
    params = {"setting": PHANTOM_SETTINGS, "imageType": {"Original": {}}, "featureClass": {"firstorder": None}}
    return extract_images(build_extractor(params), image, mask)


def _slice_averaged_texture(image: Any, mask: Any) -> dict[str, float]:
    """Each axial slice as a 2-D image (the project's path), features averaged over slices."""
    import SimpleITK as sitk

    classes = {cls: None for cls, _ in _TEXTURE.values()}
    extractor = build_extractor({"setting": PHANTOM_SETTINGS, "imageType": {"Original": {}}, "featureClass": classes})
    pixels, labels = sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(mask)
    spacing = image.GetSpacing()[:2]
    per_slice: list[dict[str, float]] = []
    for z in range(pixels.shape[0]):
        if not (labels[z] == 1).any():
            continue
        slice_image = sitk.GetImageFromArray(pixels[z].astype(np.float32))
        slice_mask = sitk.GetImageFromArray(labels[z].astype(np.uint8))
        slice_image.SetSpacing(spacing)
        slice_mask.SetSpacing(spacing)
        per_slice.append(extract_images(extractor, slice_image, slice_mask))
    return {name: float(np.mean([s[name] for s in per_slice])) for name in per_slice[0]}


def _reference() -> dict[str, dict[str, str]]:
    with REFERENCE_CSV.open(encoding="utf-8-sig") as handle:
        return {row["tag"]: row for row in csv.DictReader(handle)}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def compare_with_ibsi() -> list[IbsiRow]:
    """One row per IBSI-1 reference feature of the families the project's settings map to."""
    image, mask = _phantom()
    first, texture = _first_order(image, mask), _slice_averaged_texture(image, mask)
    rows = []
    for tag, ref in _reference().items():
        prefix, _, rest = tag.partition("_")
        ours, name, note = None, None, ""
        if prefix in ("stat", "ih"):
            if rest in _STATS:
                name = f"original_firstorder_{_STATS[rest]}"
                ours = first[name] - 3.0 if rest == "kurt" else first[name]  # IBSI: excess kurtosis
                note = "whole ROI" + ("; pyradiomics kurtosis - 3" if rest == "kurt" else "")
            else:
                note = "not computed by pyradiomics"
        elif prefix in _TEXTURE and tag.endswith(_TWO_D_TAGS[prefix]):
            feature_class, names = _TEXTURE[prefix]
            base = tag.removesuffix(_TWO_D_TAGS[prefix]).partition("_")[2]
            if base in names:
                name = f"original_{feature_class}_{names[base]}"
                ours = texture.get(name)
                note = "2-D per slice, averaged"
            else:
                note = "not computed by pyradiomics"
        else:
            continue
        rows.append(
            IbsiRow(
                tag,
                ref["family"],
                ref["feature"],
                _number(ref["reference value"]),
                _number(ref["tolerance"]),
                ours,
                name,
                note,
            )
        )
    return rows


def markdown_table(rows: list[IbsiRow]) -> str:
    lines = [
        "| IBSI tag | family | feature | reference ± tolerance | ours | within | pyradiomics feature / note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ref = "n/a" if r.reference is None else f"{r.reference:.4g} ± {r.tolerance:.3g}"
        ours = "" if r.ours is None else f"{r.ours:.4g}"
        within = "" if r.ours is None or r.reference is None else ("yes" if r.within else "**no**")
        lines.append(
            f"| {r.tag} | {r.family} | {r.feature} | {ref} | {ours} | {within} | "
            f"{r.pyradiomics_name or ''} {('(' + r.note + ')') if r.note else ''} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    rows = compare_with_ibsi()
    compared = [r for r in rows if r.ours is not None and r.reference is not None]
    within = sum(r.within for r in compared)
    summary = f"{within} of {len(compared)} compared features within IBSI tolerance ({len(rows)} reference rows)"
    if argv:
        path = Path(argv[0])
        text = path.read_text()
        head = text.split("<!-- table -->")[0]
        path.write_text(f"{head}<!-- table -->\n\n{summary}.\n\n{markdown_table(rows)}\n")
    print(summary)


if __name__ == "__main__":
    main(sys.argv[1:])
