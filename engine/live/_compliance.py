"""Compliance rules in YAML, and their check against one account's state.

A rule states the condition an account must meet, ``metric comparison threshold`` (for example
``equity_to_exposure >= 0.25``): **compliant** when it holds, **non_compliant** when it does not
(for a reporting threshold: the position must be reported), **not_applicable** when the metric
cannot be measured (a reference figure missing, no VaR yet). Every threshold names its source:
the regulation and the article or section.

File format (``data/live/compliance.yaml`` is the shipped one)::

    version: 1
    instruments:                     # reference figures some metrics need, by instrument
      SP500: {contract_multiplier: 250}
      AAPL: {issued_shares: 15943425000}
    rules:
      - rule_id: finra.maintenance_margin
        regulation: finra            # the group `--regulations` selects
        title: Maintenance margin
        metric: equity_to_exposure
        scope: account               # or instrument: one value per instrument
        comparison: ">="             # <, <=, >, >=
        threshold: 0.25
        unit: decimal
        action: deposit funds or reduce positions
        source: {regulation: FINRA Rule 4210, section: "4210(c)(1)", note: ...}

Metrics (:data:`ACCOUNT_METRICS`, :data:`INSTRUMENT_METRICS`); ``v_i = q_i x mark_i``, currency:

==============================  ==========================================================
``total_exposure``              ``sum |v_i|``
``long_market_value``           ``sum max(v_i, 0)``
``short_market_value``          ``sum max(-v_i, 0)``
``equity``                      ``initial_capital + total_pl``
``current_leverage``            ``total_exposure / equity``
``margin_utilization``          ``total_exposure x required_margin_ratio / equity``
``equity_to_exposure``          ``equity / total_exposure`` (infinite without exposure)
``daily_pl``, ``drawdown``      as the ``pl`` panel and the drawdown limit
``var_95``, ``risk_score``      the last risk update's
``var_95_to_equity``            ``var_95 / equity``
``instrument_count``            instruments with a non-zero position
``traded_notional_day|month``   ``sum |quantity| x price`` of the account's applied trades in
                                the UTC day (calendar month) of the account's last event
``traded_quantity_day|month``   ``sum |quantity|`` of the same trades, units
``position_quantity``           ``|q_i|``, units (instrument scope)
``position_notional``           ``|v_i|`` (instrument scope)
``position_share_of_exposure``  ``|v_i| / total_exposure`` (instrument scope)
``contracts``                   ``|q_i| / contract_multiplier_i`` (instrument scope)
``net_short_share_of_issued``   ``max(-q_i, 0) / issued_shares_i`` (instrument scope)
``long_share_of_issued``        ``max(q_i, 0) / issued_shares_i`` (instrument scope)
==============================  ==========================================================

An instrument-scoped rule looks at the instruments it lists (held or not), or else at every
instrument the account holds; it is compliant when every one of them is, and reports the worst
value (the largest for ``<`` and ``<=``, the smallest for ``>`` and ``>=``) and its instrument.
Instruments without the reference figure a metric needs are left out and named.

The file is read like every other YAML input (bounded, safe loader, aliases refused,
:func:`engine.live.read_yaml`) and validated strictly by pydantic: unknown keys, non-numbers,
unknown metrics or comparisons, a source without its regulation or section, and a rule id
given twice are all refused, with every problem named.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from engine.errors import InputError, Issue, ValidationError, from_pydantic
from engine.live._inputs import read_yaml
from engine.live._positions import AccountSnapshot
from engine.live._risk import AccountRisk

__all__ = [
    "ACCOUNT_METRICS",
    "COMPARISONS",
    "INSTRUMENT_METRICS",
    "ComplianceReport",
    "ComplianceRule",
    "ComplianceRules",
    "InstrumentReference",
    "RuleResult",
    "RuleSource",
    "check_compliance",
    "parse_compliance_rules",
    "read_compliance_rules",
]

#: Account-level metrics (see the module docstring).
ACCOUNT_METRICS: tuple[str, ...] = (
    "total_exposure", "long_market_value", "short_market_value", "equity", "current_leverage",
    "margin_utilization", "equity_to_exposure", "daily_pl", "drawdown", "var_95",
    "var_95_to_equity", "risk_score", "instrument_count", "traded_notional_day",
    "traded_quantity_day", "traded_notional_month", "traded_quantity_month")
#: Instrument-level metrics (see the module docstring).
INSTRUMENT_METRICS: tuple[str, ...] = (
    "position_quantity", "position_notional", "position_share_of_exposure", "contracts",
    "net_short_share_of_issued", "long_share_of_issued")
#: The comparisons a rule may state, as the condition of compliance.
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
#: Traded aggregates the caller measures (``traded`` of :func:`check_compliance`).
TRADED_METRICS: tuple[str, ...] = ("traded_notional_day", "traded_quantity_day",
                                   "traded_notional_month", "traded_quantity_month")
_NEEDS = {"contracts": "contract_multiplier", "net_short_share_of_issued": "issued_shares",
          "long_share_of_issued": "issued_shares"}

Status = Literal["compliant", "non_compliant", "not_applicable"]


class RuleSource(BaseModel):
    """Where a threshold comes from: the regulation, its article or section, and a note."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    regulation: str = Field(min_length=1, max_length=300)
    section: str = Field(min_length=1, max_length=300)
    url: str | None = Field(default=None, max_length=500)
    note: str | None = Field(default=None, max_length=2000)

    def text(self) -> str:
        """``regulation, section``, as results show it."""
        return f"{self.regulation}, {self.section}"


class InstrumentReference(BaseModel):
    """Reference figures of one instrument: units per contract, issued shares."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    contract_multiplier: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    issued_shares: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    note: str | None = Field(default=None, max_length=2000)


class ComplianceRule(BaseModel):
    """One rule: compliant when ``metric comparison threshold`` holds (module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    rule_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    regulation: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    title: str = Field(min_length=1, max_length=300)
    metric: Literal[ACCOUNT_METRICS + INSTRUMENT_METRICS]  # type: ignore[valid-type]
    scope: Literal["account", "instrument"] = "account"
    instruments: list[str] | None = None
    comparison: Literal["<", "<=", ">", ">="]
    threshold: float = Field(allow_inf_nan=False)
    unit: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=1000)
    source: RuleSource

    @model_validator(mode="after")
    def _scope(self) -> ComplianceRule:
        if self.scope == "account" and self.metric not in ACCOUNT_METRICS:
            raise ValueError(f"metric {self.metric} is measured per instrument; set scope: "
                             "instrument")
        if self.scope == "instrument" and self.metric not in INSTRUMENT_METRICS:
            raise ValueError(f"metric {self.metric} is measured for the account; set scope: "
                             "account")
        if self.scope == "account" and self.instruments is not None:
            raise ValueError("instruments apply to a rule of scope: instrument only")
        return self


class ComplianceRules(BaseModel):
    """A compliance file: reference figures by instrument and the rules, each id once."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    version: Literal[1] = 1
    instruments: dict[str, InstrumentReference] = Field(default_factory=dict)
    rules: list[ComplianceRule] = Field(min_length=1)
    #: sha256 of the file's bytes (set by :func:`read_compliance_rules`; not in the file).
    sha256: str = Field(default="", exclude=True)

    @field_validator("rules")
    @classmethod
    def _unique(cls, v: list[ComplianceRule]) -> list[ComplianceRule]:
        seen: set[str] = set()
        for r in v:
            if r.rule_id in seen:
                raise ValueError(f"rule_id {r.rule_id!r} is given twice; give each rule once")
            seen.add(r.rule_id)
        return v

    @property
    def regulations(self) -> list[str]:
        """The regulations (rule groups), in file order."""
        return list(dict.fromkeys(r.regulation for r in self.rules))

    def select(self, regulations: Sequence[str] | None) -> list[ComplianceRule]:
        """The rules of ``regulations`` (every rule when None), in file order.

        Raises
        ------
        InputError
            A regulation with no rule in the file; the message lists those there are.
        """
        if not regulations:
            return list(self.rules)
        unknown = [r for r in regulations if r not in self.regulations]
        if unknown:
            raise InputError(f"no compliance rules for {', '.join(unknown)}; the rules file has "
                             f"{', '.join(self.regulations)}")
        return [r for r in self.rules if r.regulation in regulations]


def parse_compliance_rules(data: Any, *, subject: str = "compliance rules") -> ComplianceRules:
    """Validate a parsed compliance document.

    Raises
    ------
    ValidationError
        Every unknown or missing key, wrong type, unknown metric or comparison, missing source,
        scope that does not fit its metric, and repeated rule id, by field path.
    """
    if not isinstance(data, dict):
        raise ValidationError([Issue(None, None, type(data).__name__,
                                     "the compliance file must be a YAML mapping with a 'rules' "
                                     "list")], subject=subject)
    try:
        return ComplianceRules.model_validate(data)
    except PydanticValidationError as exc:
        raise from_pydantic(exc, subject=subject) from None


def read_compliance_rules(source: str | Path | bytes, *,
                          subject: str | None = None) -> ComplianceRules:
    """Read and validate a compliance rules file (a path, or its bytes).

    Raises
    ------
    InputError
        A missing, oversized, undecodable or malformed file, or a YAML alias.
    ValidationError
        Invalid rules (:func:`parse_compliance_rules`).
    """
    doc = read_yaml(source, subject=subject, what="compliance rules")
    rules = parse_compliance_rules(doc.data, subject=doc.subject)
    return rules.model_copy(update={"sha256": doc.sha256})


class RuleResult(BaseModel):
    """The outcome of one rule for one account.

    Attributes
    ----------
    value : float or None
        The measured value (the worst instrument's for an instrument rule); None when not
        applicable or when no instrument is in scope.
    instrument : str or None
        The instrument of ``value`` (instrument rules).
    status : {"compliant", "non_compliant", "not_applicable"}
    detail : str
        What was measured, in a sentence.
    source : str
        ``regulation, section`` of the threshold.
    """

    model_config = ConfigDict(frozen=True)

    rule_id: str
    regulation: str
    title: str
    metric: str
    comparison: str
    threshold: float
    unit: str
    value: float | None
    instrument: str | None
    status: Status
    detail: str
    action: str
    source: str

    @property
    def compliant(self) -> bool:
        """False only for ``non_compliant``."""
        return self.status != "non_compliant"


class ComplianceReport(BaseModel):
    """Every selected rule's outcome for one account at one time."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    as_of: datetime | None
    regulations: tuple[str, ...]
    results: tuple[RuleResult, ...]

    @property
    def compliant(self) -> bool:
        """True when no rule is ``non_compliant``."""
        return all(r.compliant for r in self.results)

    @property
    def non_compliant(self) -> int:
        return sum(not r.compliant for r in self.results)

    def to_frame(self) -> pd.DataFrame:
        """One row per rule."""
        return pd.DataFrame([r.model_dump() for r in self.results],
                            columns=list(RuleResult.model_fields))


def _account_metrics(snapshot: AccountSnapshot, *, values: np.ndarray, risk: AccountRisk | None,
                     traded: Mapping[str, float]) -> dict[str, float | None]:
    exposure = snapshot.total_exposure
    equity = snapshot.equity
    var = None if risk is None else risk.var_95
    out: dict[str, float | None] = {
        "total_exposure": exposure,
        "long_market_value": float(np.clip(values, 0.0, None).sum()),
        "short_market_value": float(np.clip(-values, 0.0, None).sum()),
        "equity": equity,
        "current_leverage": snapshot.current_leverage,
        "margin_utilization": snapshot.margin_utilization,
        "equity_to_exposure": math.inf if exposure == 0.0 else equity / exposure,
        "daily_pl": snapshot.pl.daily_pl,
        "drawdown": snapshot.drawdown,
        "var_95": var,
        "var_95_to_equity": None if var is None or equity <= 0.0 else var / equity,
        "risk_score": None if risk is None else risk.risk_score,
        "instrument_count": float(snapshot.instrument_count),
    }
    for key in TRADED_METRICS:
        out[key] = float(traded[key]) if key in traded else None
    return out


def _instrument_value(metric: str, *, q: float, v: float, exposure: float,
                      ref: InstrumentReference | None) -> float | None:
    if metric == "position_quantity":
        return abs(q)
    if metric == "position_notional":
        return abs(v)
    if metric == "position_share_of_exposure":
        return abs(v) / exposure if exposure > 0.0 else 0.0
    need = getattr(ref, _NEEDS[metric], None) if ref is not None else None
    if need is None:
        return None
    if metric == "contracts":
        return abs(q) / need
    if metric == "net_short_share_of_issued":
        return max(-q, 0.0) / need
    return max(q, 0.0) / need


def _fmt(x: float) -> str:
    return "infinite" if math.isinf(x) else f"{x:,.6g}"


def check_compliance(rules: ComplianceRules, *, account_id: str, snapshot: AccountSnapshot,
                     quantities: np.ndarray, values: np.ndarray, instruments: Sequence[str],
                     risk: AccountRisk | None = None, traded: Mapping[str, float] | None = None,
                     regulations: Sequence[str] | None = None) -> ComplianceReport:
    """Check every selected rule against one account's state (module docstring).

    Parameters
    ----------
    rules : ComplianceRules
    account_id : str
    snapshot : AccountSnapshot
        The account now (:meth:`engine.live.Book.snapshot`).
    quantities, values : ndarray of shape (n_instruments,)
        Signed quantities (units) and market values ``q x mark`` (currency).
    instruments : sequence of str
        The instrument of each column.
    risk : AccountRisk, optional
        The last risk update (``var_95``, ``risk_score``); those metrics are not applicable
        without it.
    traded : mapping of str to float, optional
        The traded aggregates (``traded_notional_day`` …); not applicable when absent.
    regulations : sequence of str, optional
        The rule groups to check (default every one).

    Returns
    -------
    ComplianceReport

    Raises
    ------
    InputError
        A regulation with no rule in the file.
    """
    selected = rules.select(regulations)
    q = np.asarray(quantities, dtype=float)
    v = np.asarray(values, dtype=float)
    column = {str(s): k for k, s in enumerate(instruments)}
    account = _account_metrics(snapshot, values=v, risk=risk, traded=traded or {})
    exposure = snapshot.total_exposure
    results = []
    for rule in selected:
        ok = COMPARISONS[rule.comparison]
        base = {"rule_id": rule.rule_id, "regulation": rule.regulation, "title": rule.title,
                "metric": rule.metric, "comparison": rule.comparison,
                "threshold": rule.threshold, "unit": rule.unit, "action": rule.action,
                "source": rule.source.text()}
        condition = f"{rule.metric} {rule.comparison} {_fmt(rule.threshold)} {rule.unit}"
        if rule.scope == "account":
            value = account[rule.metric]
            if value is None:
                results.append(RuleResult(**base, value=None, instrument=None,
                                          status="not_applicable",
                                          detail=f"{rule.metric} cannot be measured yet"))
                continue
            good = ok(value, rule.threshold)
            results.append(RuleResult(
                **base, value=value, instrument=None,
                status="compliant" if good else "non_compliant",
                detail=f"{rule.metric} = {_fmt(value)} {rule.unit}; compliant when {condition}"))
            continue
        scope = list(rule.instruments) if rule.instruments is not None else \
            [str(instruments[k]) for k in np.flatnonzero(q != 0.0)]
        measured: list[tuple[str, float]] = []
        missing: list[str] = []
        for name in scope:
            k = column.get(name)
            qk, vk = (0.0, 0.0) if k is None else (float(q[k]), float(v[k]))
            value = _instrument_value(rule.metric, q=qk, v=vk, exposure=exposure,
                                      ref=rules.instruments.get(name))
            (missing.append(name) if value is None else measured.append((name, value)))
        note = (f"; no {_NEEDS[rule.metric]} in the rules file for {', '.join(missing)}"
                if missing else "")
        if not measured:
            if missing:
                results.append(RuleResult(**base, value=None, instrument=None,
                                          status="not_applicable",
                                          detail=f"nothing to measure{note}"))
            else:
                results.append(RuleResult(**base, value=None, instrument=None,
                                          status="compliant", detail="no position in scope"))
            continue
        high = rule.comparison in ("<", "<=")
        name, value = (max if high else min)(measured, key=lambda x: x[1])
        failing = [n for n, x in measured if not ok(x, rule.threshold)]
        detail = (f"{len(failing)} of {len(measured)} instruments fail ({', '.join(failing)})"
                  if failing else f"all {len(measured)} instruments pass")
        results.append(RuleResult(
            **base, value=value, instrument=name,
            status="non_compliant" if failing else "compliant",
            detail=f"worst {rule.metric} = {_fmt(value)} {rule.unit} ({name}); compliant when "
                   f"{condition}; {detail}{note}"))
    return ComplianceReport(account_id=account_id, as_of=snapshot.as_of,
                            regulations=tuple(dict.fromkeys(r.regulation for r in selected)),
                            results=tuple(results))
