"""The IBSI-1 digital phantom through the project's 2-D radiomics path: the features that match the
IBSI reference values (arXiv:1612.07003) stay matched."""

from __future__ import annotations

import pytest

from tests.conftest import require_shared
from tests.golden.ibsi_harness import PHANTOM_IMAGE, REFERENCE_CSV, compare_with_ibsi

# Measured when docs/ibsi.md was written: every one of the 105 mappable features matched.
REPRODUCED_AT_LEAST = 105

pytestmark = pytest.mark.shared_data


def test_reproduced_features_do_not_fall() -> None:
    require_shared(PHANTOM_IMAGE)
    require_shared(REFERENCE_CSV)
    rows = compare_with_ibsi()
    compared = [r for r in rows if r.ours is not None and r.reference is not None]
    reproduced = [r.tag for r in compared if r.within]
    assert len(reproduced) >= REPRODUCED_AT_LEAST, sorted({r.tag for r in compared} - set(reproduced))
    # Spot checks against IBSI's published values for the phantom (3 significant digits).
    by_tag = {r.tag: r.ours for r in rows}
    assert round(by_tag["stat_mean"], 2) == 2.15
    assert round(by_tag["cm_joint_max_2D_avg"], 3) == 0.519
    assert round(by_tag["szm_sze_2D"], 3) == 0.363
