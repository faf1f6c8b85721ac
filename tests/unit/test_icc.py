"""ICC(2,1) against the published example of Shrout & Fleiss (1979), Table 2 and 4."""

from __future__ import annotations

import numpy as np
import pytest

from sonorisk.radiomics.robustness import feature_iccs, icc_2_1

# Six targets rated by four judges (Shrout & Fleiss 1979, Table 2); published ICC(2,1) = 0.29.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)


def test_icc_matches_the_published_value() -> None:
    assert icc_2_1(SHROUT_FLEISS) == pytest.approx(0.29, abs=0.005)


def test_perfect_agreement_is_one_and_a_constant_offset_lowers_it() -> None:
    x = np.arange(10, dtype=float)
    assert icc_2_1(np.column_stack([x, x])) == pytest.approx(1.0)
    assert icc_2_1(np.column_stack([x, x + 3.0])) < 0.9  # absolute agreement penalises bias


def test_feature_iccs_skip_failed_cases() -> None:
    a = np.array([[1.0, 5.0], [2.0, np.nan], [3.0, 7.0], [4.0, 8.0]])
    b = np.array([[1.1, 5.0], [2.1, 6.0], [2.9, 7.1], [4.0, 7.9]])
    iccs = feature_iccs(a, b, ["f", "g"])
    assert iccs["f"] > 0.99
    assert iccs["g"] > 0.99
