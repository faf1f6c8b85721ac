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

from sonorisk.bundle import BundleError
from sonorisk.paths import CONTRACTS_DIR

RISK_CONTRACT_PATH = CONTRACTS_DIR / "risk" / "risk_table.yaml"
# Parquet schema metadata of every partition: the contract version it was written under. Partitions
# from before the key existed were written under version 1.
VERSION_KEY = b"sonorisk.risk_contract_version"


@dataclass(frozen=True)
class RiskTableContract:
    columns: list[dict[str, Any]]
    version: int = 1
    migrations: tuple[dict[str, Any], ...] = ()

    @classmethod
    def load(cls, path: Path = RISK_CONTRACT_PATH) -> RiskTableContract:
        raw = yaml.safe_load(path.read_text())
        return cls(list(raw["columns"]), int(raw.get("version", 1)), tuple(raw.get("migrations") or ()))

    @property
    def schema(self) -> pa.Schema:
        fields = [pa.field(c["name"], _type(c["type"]), nullable=bool(c["nullable"])) for c in self.columns]
        return pa.schema(fields, metadata={VERSION_KEY: str(self.version).encode()})

    def stamp(self, table: pa.Table) -> pa.Table:
        """``table`` cast to the contract's schema, carrying its version in the Parquet metadata."""
        return table.cast(self.schema)

    def migrate(self, table: pa.Table) -> tuple[pa.Table, int]:
        """A partition written under an older version, as this version; returns it and its old version.

        Each step from ``migrations`` adds its columns as nulls (new columns are nullable); rows are
        never dropped. Raises BundleError for a partition written under a newer version (a newer bundle
        wrote it), ValueError when no chain of steps leads here or the result breaks the contract.
        """
        written = partition_version(table)
        if written > self.version:
            raise BundleError(
                f"the partition was written under risk-table contract v{written}, newer than this bundle's "
                f"v{self.version}: score with the newer bundle"
            )
        steps = {int(m["from"]): m for m in self.migrations}
        for version in range(written, self.version):
            if version not in steps:
                raise ValueError(f"no migration from risk-table contract v{version} to v{version + 1}")
            for name in steps[version]["add"]:
                if name not in table.column_names:
                    rule = next(c for c in self.columns if c["name"] == name)
                    table = table.append_column(name, pa.nulls(table.num_rows, _type(rule["type"])))
        names = [c["name"] for c in self.columns]
        if sorted(table.column_names) != sorted(names):
            raise ValueError(f"migrated partition has columns {table.column_names}, the contract {names}")
        migrated = self.stamp(table.select(names))
        problems = self.violations(migrated)
        if problems:
            raise ValueError("migrated partition breaks the contract: " + "; ".join(problems[:5]))
        return migrated, written

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


def partition_version(table: pa.Table) -> int:
    """The contract version a partition was written under (1 when it does not say)."""
    return int((table.schema.metadata or {}).get(VERSION_KEY, b"1"))


def _count(mask: Any) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _type(name: str) -> pa.DataType:
    if name.startswith("timestamp"):
        return pa.timestamp("us", tz="UTC")
    return {
        "string": pa.string(),
        "double": pa.float64(),
        "int64": pa.int64(),
        "bool": pa.bool_(),
        "date32": pa.date32(),
    }[name]
