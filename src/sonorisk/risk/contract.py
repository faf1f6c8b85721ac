"""The risk-table contract (``data_contracts/risk/risk_table.yaml``), checked before every write.

Example:
    >>> import pyarrow as pa
    >>> contract = RiskTableContract([{"name": "risk", "type": "double", "nullable": False, "min": 0, "max": 1}])
    >>> contract.violations(pa.table({"risk": [0.2, 1.4]}))
    ['risk: 1 value(s) above 1']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from sonorisk.paths import CONTRACTS_DIR

RISK_CONTRACT_PATH = CONTRACTS_DIR / "risk" / "risk_table.yaml"


@dataclass(frozen=True)
class RiskTableContract:
    columns: list[dict[str, Any]]

    @classmethod
    def load(cls, path: Path = RISK_CONTRACT_PATH) -> RiskTableContract:
        return cls(list(yaml.safe_load(path.read_text())["columns"]))

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c["name"], _type(c["type"]), nullable=bool(c["nullable"])) for c in self.columns])

    def violations(self, table: pa.Table) -> list[str]:
        """Every broken rule, one line each (empty: the table honours the contract)."""
        names = [c["name"] for c in self.columns]
        if table.column_names != names:
            return [f"columns {table.column_names} differ from the contract's {names}"]
        problems = []
        for rule in self.columns:
            column = table.column(rule["name"])
            if column.type != _type(rule["type"]):
                problems.append(f"{rule['name']}: type {column.type}, contract {rule['type']}")
                continue
            if not rule["nullable"] and column.null_count:
                problems.append(f"{rule['name']}: {column.null_count} null value(s)")
            if "min" in rule and (below := _count(pc.less(column, rule["min"]))):
                problems.append(f"{rule['name']}: {below} value(s) below {rule['min']}")
            if "max" in rule and (above := _count(pc.greater(column, rule["max"]))):
                problems.append(f"{rule['name']}: {above} value(s) above {rule['max']}")
            if "allowed" in rule:
                allowed = pa.array(rule["allowed"], column.type)
                outside = _count(pc.invert(pc.is_in(column, value_set=allowed))) - column.null_count
                if outside:
                    problems.append(f"{rule['name']}: {outside} value(s) outside {rule['allowed']}")
        return problems


def _count(mask: Any) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _type(name: str) -> pa.DataType:
    if name.startswith("timestamp"):
        return pa.timestamp("us", tz="UTC")
    return {"string": pa.string(), "double": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}[name]
