"""The canonical loan-tape schema: the pool models every reader maps to and the credit engine
computes on. Ingest owns them; :mod:`engine.credit.models` re-exports them.

Two shapes of one pool:

* :class:`Pool` / :class:`Asset`: the request's JSON shape (ARCHITECTURE.md, "Credit stress test:
  request and response"), validated record by record. Right for a request body or a small pool.
* :class:`PoolData`: the same pool as one pandas DataFrame with the canonical columns of
  :data:`ASSET_COLUMNS`, validated column-wise by :mod:`engine.ingest`. The engine computes on this
  shape; a million pydantic objects would cost more than the stress test itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AssetClass",
    "RateType",
    "AssetStatus",
    "Asset",
    "Pool",
    "PoolData",
    "ASSET_COLUMNS",
    "REQUIRED_COLUMNS",
    "BEHAVIOURAL_COLUMNS",
    "MAX_TERM_MONTHS",
    "MAX_BALANCE",
]


class AssetClass(StrEnum):
    RESIDENTIAL_MORTGAGE = "residential_mortgage"
    COMMERCIAL_MORTGAGE = "commercial_mortgage"
    AUTO_LOAN = "auto_loan"
    CONSUMER_LOAN = "consumer_loan"
    STUDENT_LOAN = "student_loan"
    CREDIT_CARD = "credit_card"
    SME_LOAN = "sme_loan"


class RateType(StrEnum):
    FIXED = "fixed"
    FLOATING = "floating"


class AssetStatus(StrEnum):
    PERFORMING = "performing"
    DELINQUENT = "delinquent"
    DEFAULT = "default"
    PAID_OFF = "paid_off"


#: Canonical columns of ``PoolData.frame`` and their dtypes, in storage order.
ASSET_COLUMNS: dict[str, str] = {
    "asset_id": "string",
    "asset_class": "string",
    "balance": "float64",            # current outstanding principal, currency units
    "rate": "float64",               # annual coupon, decimal (0.05 = 5 %)
    "term": "int64",                 # original term, months
    "age": "int64",                  # months since origination at the cutoff date
    "original_balance": "float64",   # currency units; may be NaN when the tape lacks it
    "rate_type": "string",
    "prepayment_speed": "float64",   # annual CPR, decimal
    "default_probability": "float64",  # annual CDR, decimal
    "recovery_rate": "float64",      # fraction of a defaulted balance recovered, decimal
    "loss_severity": "float64",      # 1 - recovery_rate
    "status": "string",
    "grade": "string",               # credit grade where the tape has one (A..G), else <NA>
    "recovery_lag": "int64",         # months from default to recovery cash
}

#: Columns every tape must supply (after mapping); the rest may be filled from assumptions.
REQUIRED_COLUMNS: tuple[str, ...] = ("asset_id", "asset_class", "balance", "rate", "term")

#: Behavioural columns that real tapes rarely carry; filled from the assumption table when absent.
BEHAVIOURAL_COLUMNS: tuple[str, ...] = (
    "prepayment_speed",
    "default_probability",
    "recovery_rate",
    "recovery_lag",
)

#: Plausibility bound on a loan's original term, months. 600 months (50 years) is above the
#: longest amortising loans written (40- and 50-year mortgages); a larger term is a unit error
#: (days or a date typed as a number) and would make the projection run for centuries.
MAX_TERM_MONTHS = 600
#: Plausibility bound on a loan's balance and original balance, currency units. 1e10 (ten
#: billion) is above any single loan in a securitised pool, yet far below the float range, so a
#: typo such as 1e300 cannot overflow the pool's sums to infinity.
MAX_BALANCE = 1e10

_unit = Field(ge=0.0, le=1.0)


class Asset(BaseModel):
    """One loan, as in the request JSON. Rates are annual decimals; term and age in months.

    Plausibility bounds: ``term`` at most :data:`MAX_TERM_MONTHS` (600); ``balance`` and
    ``original_balance`` at most :data:`MAX_BALANCE` (1e10 currency units).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    asset_id: str = Field(min_length=1)
    asset_class: AssetClass
    balance: float = Field(ge=0.0, le=MAX_BALANCE, allow_inf_nan=False)
    rate: float = _unit
    term: int = Field(gt=0, le=MAX_TERM_MONTHS)
    age: int = Field(default=0, ge=0)
    original_balance: float | None = Field(default=None, gt=0.0, le=MAX_BALANCE, allow_inf_nan=False)
    rate_type: RateType = RateType.FIXED
    prepayment_speed: float | None = Field(default=None, ge=0.0, le=1.0)
    default_probability: float | None = Field(default=None, ge=0.0, le=1.0)
    recovery_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    loss_severity: float | None = Field(default=None, ge=0.0, le=1.0)
    status: AssetStatus = AssetStatus.PERFORMING
    grade: str | None = None
    recovery_lag: int | None = Field(default=None, ge=0, le=120)

    @model_validator(mode="after")
    def _check(self) -> "Asset":
        if self.term <= self.age:
            raise ValueError(f"term ({self.term}) must be above age ({self.age})")
        if self.balance <= 0 and self.status != AssetStatus.PAID_OFF:
            raise ValueError("balance must be positive unless status is paid_off")
        if self.recovery_rate is not None and self.loss_severity is not None:
            if abs(self.recovery_rate + self.loss_severity - 1.0) > 1e-6:
                raise ValueError("recovery_rate + loss_severity must equal 1")
        return self


class Pool(BaseModel):
    """A pool in the request's JSON shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool_id: str = Field(min_length=1)
    pool_name: str = Field(min_length=1)
    assets: list[Asset] = Field(min_length=1)
    cutoff_date: date | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class PoolData:
    """A validated pool in columnar form: what the engine computes on and the store keeps.

    Attributes
    ----------
    pool_id, pool_name : str
    frame : DataFrame of shape (n_assets, len(ASSET_COLUMNS))
        Canonical columns of :data:`ASSET_COLUMNS`, every behavioural field filled.
    cutoff_date : date or None
        The date balances and ages refer to.
    metadata : dict
        Free-form facts about the pool (source tape, mapping, notes).
    assumptions : list of dict
        Every filled value, aggregated: {field, asset_class, grade, value, source, n_assets}.
    warnings : list of str
        Conversions made on the way in (a percent column read as decimals, rows excluded, …).
    source_format : str
        ``native``, ``lendingclub``, ``loan-record``, or ``mapped`` (a user's column mapping).
    quarantine : list of dict
        Rows of the tape left out because they broke a rule, when the import was asked to
        quarantine bad rows: {source_row (1-based data row), values {column: value as read},
        issues [{column, value, rule}]}. Empty for a pool read back from the store (the store
        keeps them in ``quarantined_rows``); not part of :meth:`content_hash`.
    """

    pool_id: str
    pool_name: str
    frame: pd.DataFrame
    cutoff_date: date | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    assumptions: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source_format: str = "native"
    quarantine: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_quarantined(self) -> int:
        """Rows of the tape quarantined on the way in (0 unless the import quarantined some)."""
        return len(self.quarantine)

    @property
    def n_assets(self) -> int:
        return len(self.frame)

    @property
    def total_balance(self) -> float:
        return float(self.frame["balance"].sum())

    def content_hash(self) -> str:
        """SHA-256 of the canonical asset columns (row order included) and the cutoff date.

        Computed once per object (the frame is not to be mutated after construction).
        """
        cached = self.__dict__.get("_content_hash")
        if cached is None:
            cached = self._hash()
            object.__setattr__(self, "_content_hash", cached)
        return cached

    def _hash(self) -> str:
        h = hashlib.sha256()
        h.update(str(self.cutoff_date).encode())
        for col in ASSET_COLUMNS:
            values = self.frame[col]
            if values.dtype.kind in "fiu":
                h.update(np.ascontiguousarray(values.to_numpy()).tobytes())
            else:
                codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
                if len(uniques) <= len(values) // 2:  # few distinct labels: hash them + codes
                    h.update("\x1f".join(map(str, uniques)).encode())
                    h.update(codes.astype(np.int64).tobytes())
                else:  # mostly distinct (ids): fixed-width UTF-32 bytes, NA as NUL
                    h.update(values.astype("string").fillna("\x00").to_numpy(dtype=str).tobytes())
        return h.hexdigest()

    def to_pool(self) -> Pool:
        """The request JSON shape (one pydantic Asset per row; meant for small pools)."""
        records = self.frame.astype(object).where(self.frame.notna(), None).to_dict("records")
        return Pool(
            pool_id=self.pool_id,
            pool_name=self.pool_name,
            assets=[Asset(**r) for r in records],
            cutoff_date=self.cutoff_date,
            metadata=self.metadata,
        )
