"""Radiomics results arrive out of order from Ray; the driver keeps them in input order as Arrow."""

import numpy as np
import pyarrow as pa
import pytest

from sonorisk.radiomics.feature_table import OrderedRecords

SCHEMA = pa.schema([("case", pa.int64()), ("value", pa.float64())])


@pytest.mark.parametrize("flush_rows", [1, 7, 256])
def test_out_of_order_records_come_back_in_input_order(flush_rows: int) -> None:
    order = np.random.default_rng(11).permutation(500)
    records = OrderedRecords(SCHEMA, flush_rows=flush_rows)
    for case in order:
        records[int(case)] = {"case": int(case), "value": case / 4}
    table = records.table()
    assert table.column("case").to_pylist() == list(range(500))
    assert table.column("value").to_pylist() == [c / 4 for c in range(500)]


def test_records_are_held_as_python_dicts_only_until_their_predecessors_arrive() -> None:
    records = OrderedRecords(SCHEMA, flush_rows=10)
    for case in range(1, 50):
        records[case] = {"case": case, "value": 0.0}
    assert len(records.waiting) == 49  # case 0 missing: nothing can move on
    records[0] = {"case": 0, "value": 0.0}
    assert not records.waiting and sum(b.num_rows for b in records.batches) == 50


def test_a_missing_case_is_an_error_not_a_shorter_table() -> None:
    records = OrderedRecords(SCHEMA)
    records[0] = {"case": 0, "value": 0.0}
    records[2] = {"case": 2, "value": 0.0}
    with pytest.raises(RuntimeError, match="case 1 never did"):
        records.table()
