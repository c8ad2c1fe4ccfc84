"""The decision summary: every capability's headline figure, its change, and what waits on whom.

Leadership has two minutes: what is our exposure, what decisions are pending? This module reads
what the store holds through each capability's workflow (nothing is recomputed) and returns one
plain model, :class:`DecisionSummary`, that the Home page lays out and the one-page summary
report renders (``model_dump(mode="json")`` is its JSON).

Sources and definitions
-----------------------
Credit (:func:`engine.credit.workflow.list_runs`)
    Per pool, its latest run that holds a stressed scenario (base alone, or a failed run, has
    no stress figure). The worst scenario is the one with the lowest NPV change against base
    (USD; its percent of the base NPV alongside). The change is this worst NPV change minus the
    same figure of the pool's previous such run (USD; positive = the worst case got better).
Model validation (:func:`engine.mlrisk.workflow.list_runs`)
    A model is a model kind trained (or loaded) on a data set for a target. Its latest run gives
    its decision (DEPLOY / RESTRICT / REDESIGN); a model's latest run with no sign-off awaits
    one. An older run, replaced by a newer validation of the same model, no longer waits.
Market risk (:func:`engine.market.workflow.recent_evaluations`, :func:`~engine.market.workflow.current_mode`)
    The latest limit evaluation's VaR per confidence against its limit (utilisation = VaR /
    limit) and its ES; the enforcement mode in force now; its breaches not marked a false
    positive are open (a breach of an earlier evaluation is superseded by the later one). Changes
    are against the evaluation before it.
Risk desk (:func:`engine.live.workflow.desk`, :func:`~engine.live.workflow.active_alerts`)
    The accounts of the latest replay session by risk level and trading state, and every
    unacknowledged alert by severity. Alert times are the feed's event times.

Amounts are USD. Texts are rounded for reading (``engine.display.money_short``: "$147.0M");
the exact figures are the models' numbers.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, computed_field

from engine.audit.runs import utc_now
from engine.auth import ACTIONS, ADMIN
from engine.credit import workflow as credit
from engine.display import label, money_short, pct
from engine.live import workflow as live
from engine.market import workflow as market
from engine.market.limits import load_default_limits
from engine.market.readings import rule_label
from engine.mlrisk import workflow as mlrisk
from engine.store import Store

__all__ = [
    "PAGES",
    "DECISIONS",
    "RISK_LEVELS",
    "SEVERITIES",
    "NO_RUN",
    "PoolStress",
    "CreditSummary",
    "ModelDecision",
    "ValidationSummary",
    "VaRFigure",
    "OpenBreach",
    "MarketSummary",
    "DeskSummary",
    "Tile",
    "PendingItem",
    "DecisionSummary",
    "decision_summary",
]

TileKey = Literal["credit", "validation", "market", "desk"]
PendingKind = Literal["sign_off", "breach", "alert"]

#: The page that explains each tile: the ``url_path`` of its ``st.Page`` (dashboard/app.py),
#: which is also the page script's name under ``pages/``.
PAGES: dict[TileKey, str] = {"credit": "stress_test", "validation": "ml_validation",
                             "market": "market_risk", "desk": "risk_desk"}
#: Validation decisions, from the best to the worst.
DECISIONS: tuple[str, ...] = ("DEPLOY", "RESTRICT", "REDESIGN")
#: The desk's risk levels and alert severities, from the most severe.
RISK_LEVELS: tuple[str, ...] = ("critical", "high", "medium", "low")
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")
#: What an empty capability's tile says.
NO_RUN = "no run yet"
#: How many credit runs are read to find each pool's latest (newest first).
_CREDIT_RUNS_READ = 100_000


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


# --------------------------------------------------------------------------- per capability

class PoolStress(_Model):
    """A pool's worst stress result in its latest run, and the change since its previous run.

    Attributes
    ----------
    pool_id, pool_name : str
    run_id : str
        The latest run with a stressed scenario.
    run_at : datetime
        When it started (naive UTC).
    n_scenarios : int
        Scenarios in the run, base included.
    worst_scenario, worst_scenario_name : str
        Key and name of the scenario with the lowest NPV change.
    npv_change : float
        Its NPV minus the base NPV, USD (negative: a loss of value).
    npv_change_percent : float
        The same in percent of the base NPV (-18.1 means -18.1 %).
    previous_run_id : str or None
        The pool's run before it (None when this is its first).
    previous_npv_change : float or None
        That run's worst NPV change, USD.
    change : float or None
        ``npv_change - previous_npv_change``, USD (positive: the worst case improved).
    """

    pool_id: str
    pool_name: str
    run_id: str
    run_at: datetime
    n_scenarios: int
    worst_scenario: str
    worst_scenario_name: str
    npv_change: float
    npv_change_percent: float
    previous_run_id: str | None = None
    previous_npv_change: float | None = None
    change: float | None = None


class CreditSummary(_Model):
    """Every pool with a stress run, the worst NPV change first."""

    pools: list[PoolStress]


class ModelDecision(_Model):
    """A model's latest validation decision.

    Attributes
    ----------
    model : str
        For reading: "Logistic regression on <data set>".
    model_kind, dataset_name, target : str
        What identifies the model.
    run_id : str
    validated_at : datetime
        When the run was made (naive UTC).
    decision : {"DEPLOY", "RESTRICT", "REDESIGN"}
    summary : str
        The run's one line ("REDESIGN: 3 failing scenarios").
    signoffs : int
        Sign-offs recorded on this run.
    previous_run_id, previous_decision : str or None
        The model's run before it.
    """

    model: str
    model_kind: str
    dataset_name: str
    target: str
    run_id: str
    validated_at: datetime
    decision: str
    summary: str
    signoffs: int
    previous_run_id: str | None = None
    previous_decision: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def awaiting_signoff(self) -> bool:
        """True while this latest run has no sign-off."""
        return self.signoffs == 0


class ValidationSummary(_Model):
    """Every validated model, the latest validated first, and how many await a sign-off."""

    models: list[ModelDecision]
    awaiting_signoff: int


class VaRFigure(_Model):
    """The latest evaluation's VaR at one confidence against its limit (USD).

    ``utilisation`` is ``var / limit`` (1.07 = 107 %); ``change`` is ``var`` minus the previous
    evaluation's VaR at the same confidence (None without one).
    """

    confidence: float
    var: float
    limit: float
    utilisation: float
    breached: bool
    previous_var: float | None = None
    change: float | None = None


class OpenBreach(_Model):
    """A breach of the latest evaluation that is not marked a false positive.

    ``metric`` and ``threshold`` are in the rule's unit (USD for VaR and stress loss, a ratio or
    fraction for the sensors); ``utilisation`` is ``metric / threshold``.
    """

    breach_id: str
    rule: str
    rule_name: str
    sensor: str
    metric: float
    threshold: float
    utilisation: float
    action: str
    evaluated_at: datetime


class MarketSummary(_Model):
    """The latest limit evaluation, the mode in force and the open breaches.

    Attributes
    ----------
    evaluation_id : str or None
        None when nothing was evaluated yet (then every figure is empty).
    evaluated_at : datetime or None
    previous_evaluation_id : str or None
    mode : {"monitoring", "gradual", "full"}
        The enforcement mode in force now.
    var : list of VaRFigure
        One per VaR limit, in the limits' order.
    es_confidence : float or None
    es : float or None
        Expected shortfall at ``es_confidence``, USD.
    open_breaches : list of OpenBreach
    previous_open_breaches : int or None
        The previous evaluation's breaches not marked false positive.
    """

    evaluation_id: str | None = None
    evaluated_at: datetime | None = None
    previous_evaluation_id: str | None = None
    mode: str
    var: list[VaRFigure] = []
    es_confidence: float | None = None
    es: float | None = None
    open_breaches: list[OpenBreach] = []
    previous_open_breaches: int | None = None


class DeskSummary(_Model):
    """The risk desk: accounts by risk level and state, unacknowledged alerts by severity.

    Attributes
    ----------
    session_id : str or None
        The latest replay session (None: no replay yet).
    as_of : datetime or None
        The feed time the session reached (naive UTC).
    accounts : int
    by_risk_level : dict of str to int
        Accounts per level, every level of :data:`RISK_LEVELS` present (0 when none).
    halted, reducing : list of str
        Account ids in that trading state now.
    alerts_by_severity : dict of str to int
        Unacknowledged alerts per severity, every severity of :data:`SEVERITIES` present.
    unacknowledged_alerts : int
    """

    session_id: str | None = None
    as_of: datetime | None = None
    accounts: int = 0
    by_risk_level: dict[str, int]
    halted: list[str] = []
    reducing: list[str] = []
    alerts_by_severity: dict[str, int]
    unacknowledged_alerts: int = 0


# --------------------------------------------------------------------------- the summary

class Tile(_Model):
    """One capability's headline for the Home page and the one-page report.

    Attributes
    ----------
    key : {"credit", "validation", "market", "desk"}
    title : str
        The capability ("Credit stress").
    page : str
        The ``url_path`` of the page that explains it (see :data:`PAGES`).
    label : str
        What the headline is ("Worst stress NPV change").
    value : float or None
        The headline as a number (USD for amounts, a count for counts); None when the headline
        is a word (a validation decision) or nothing is stored.
    text : str
        The headline for reading ("-$26.3M", "REDESIGN"); :data:`NO_RUN` when nothing is stored.
    change : float or None
        The headline's change against the previous run or evaluation, in the headline's unit.
    change_text : str or None
        The change for reading ("+$0.4M vs previous run", "was DEPLOY").
    higher_is_better : bool or None
        Which way of ``change`` is good (for colouring); None when it has no direction.
    as_of : datetime or None
        When the headline's data was made (naive UTC; the desk: feed time).
    as_of_label : str
        How to introduce ``as_of`` ("As of"; the desk: "Feed time").
    lines : list of str
        Short lines that explain the headline, for reading.
    empty : bool
        True when the capability has no run yet.
    """

    key: TileKey
    title: str
    page: str
    label: str
    value: float | None = None
    text: str
    change: float | None = None
    change_text: str | None = None
    higher_is_better: bool | None = None
    as_of: datetime | None = None
    as_of_label: str = "As of"
    lines: list[str] = []
    empty: bool = False


class PendingItem(_Model):
    """Something that waits on a person.

    Attributes
    ----------
    kind : {"sign_off", "breach", "alert"}
    what : str
        For reading ("Sign off REDESIGN of Logistic regression on …").
    who : str
        The role that must act, from :data:`engine.auth.ACTIONS` ("validator"); roles joined
        with " or " when several may; "admin" when only an admin may.
    action : str
        The :data:`engine.auth.ACTIONS` key of what they do ("sign_off").
    since : datetime
        Since when it waits (naive UTC; an alert: the feed time it was raised).
    page : str
        The ``url_path`` of the page where it is done.
    item_id : str
        The run id, breach id or alert id.
    severity : str or None
        An alert's severity.
    """

    kind: PendingKind
    what: str
    who: str
    action: str
    since: datetime
    page: str
    item_id: str
    severity: str | None = None


class DecisionSummary(_Model):
    """The decision summary across every capability (see the module docstring).

    Attributes
    ----------
    generated_at : datetime
        When it was read (naive UTC).
    credit, validation, market, desk
        Each capability's figures, exact.
    tiles : list of Tile
        Credit, model validation, market risk, risk desk, in that order.
    pending : list of PendingItem
        Sign-offs (oldest first), then open breaches (oldest first), then unacknowledged alerts
        (the most severe first, then the oldest).
    """

    generated_at: datetime
    credit: CreditSummary
    validation: ValidationSummary
    market: MarketSummary
    desk: DeskSummary
    tiles: list[Tile]
    pending: list[PendingItem]

    def tile(self, key: TileKey) -> Tile:
        """The tile of ``key``.

        Raises
        ------
        KeyError
            If no tile has that key.
        """
        for t in self.tiles:
            if t.key == key:
                return t
        raise KeyError(key)

    def pending_frame(self) -> pd.DataFrame:
        """The pending list as a table: kind, who, what, since, page, item_id, severity."""
        cols = ["kind", "who", "what", "since", "page", "item_id", "severity"]
        return pd.DataFrame([p.model_dump(include=set(cols)) for p in self.pending], columns=cols)


# --------------------------------------------------------------------------- reading helpers

def _naive_utc(value: object) -> datetime:
    """A stored time as naive UTC (ISO text with an offset, a pandas Timestamp or a datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        raise TypeError(f"not a time: {value!r}")
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _signed_money(x: float) -> str:
    if x == 0:
        return "no change"
    return ("+" if x > 0 else "") + money_short(x)


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def _who(action: str) -> str:
    return " or ".join(ACTIONS[action].allowed) or ADMIN


def _confidence(c: float) -> str:
    return f"{c * 100:g}%"


# --------------------------------------------------------------------------- credit

def _credit(store: Store) -> CreditSummary:
    runs = credit.list_runs(store=store, limit=_CREDIT_RUNS_READ)
    stressed = runs[runs["npv_change"].notna()] if len(runs) else runs
    pools: list[PoolStress] = []
    for pool_id, group in stressed.groupby("pool_id", sort=False):  # runs come newest first
        latest = group.iloc[0]
        previous = group.iloc[1] if len(group) > 1 else None
        prev_change = None if previous is None else float(previous["npv_change"])
        pools.append(PoolStress(
            pool_id=str(pool_id), pool_name=str(latest["pool_name"]), run_id=str(latest["run_id"]),
            run_at=_naive_utc(latest["started_at"]), n_scenarios=int(latest["n_scenarios"]),
            worst_scenario=str(latest["worst_scenario"]),
            worst_scenario_name=str(latest["worst_scenario_name"]),
            npv_change=float(latest["npv_change"]),
            npv_change_percent=float(latest["npv_change_percent"]),
            previous_run_id=None if previous is None else str(previous["run_id"]),
            previous_npv_change=prev_change,
            change=None if prev_change is None else float(latest["npv_change"]) - prev_change))
    pools.sort(key=lambda p: (p.npv_change, p.pool_id))
    return CreditSummary(pools=pools)


def _credit_tile(summary: CreditSummary) -> Tile:
    base = {"key": "credit", "title": "Credit stress", "page": PAGES["credit"],
            "label": "Worst stress NPV change"}
    if not summary.pools:
        return Tile(**base, text=NO_RUN, empty=True,
                    lines=["Run a stress test on a pool to see its worst scenario here."])
    worst = summary.pools[0]
    lines = [f"{p.pool_name}: {p.worst_scenario_name} {money_short(p.npv_change)} "
             f"({pct(p.npv_change_percent, decimal=False)}), run of {_day(p.run_at)}"
             for p in summary.pools]
    return Tile(**base, value=worst.npv_change, text=money_short(worst.npv_change),
                change=worst.change,
                change_text=None if worst.change is None
                else f"{_signed_money(worst.change)} vs previous run",
                higher_is_better=True, as_of=max(p.run_at for p in summary.pools), lines=lines)


# --------------------------------------------------------------------------- validation

def _validation(store: Store) -> ValidationSummary:
    runs = mlrisk.list_runs(store=store)
    models: list[ModelDecision] = []
    if len(runs):
        runs = runs.assign(_at=[_naive_utc(v) for v in runs["generated_at"]])
        runs = runs.sort_values(["_at", "run_id"], ascending=[False, False], kind="stable")
        for (kind, dataset, target), group in runs.groupby(
                ["model_kind", "dataset_name", "target"], sort=False):
            latest = group.iloc[0]
            previous = group.iloc[1] if len(group) > 1 else None
            models.append(ModelDecision(
                model=f"{label(str(kind))} on {dataset}", model_kind=str(kind),
                dataset_name=str(dataset), target=str(target), run_id=str(latest["run_id"]),
                validated_at=latest["_at"], decision=str(latest["decision"]),
                summary=str(latest["summary"] or latest["decision"]),
                signoffs=int(latest["signoffs"]),
                previous_run_id=None if previous is None else str(previous["run_id"]),
                previous_decision=None if previous is None else str(previous["decision"])))
    models.sort(key=lambda m: (m.validated_at, m.run_id), reverse=True)
    return ValidationSummary(models=models,
                             awaiting_signoff=sum(m.awaiting_signoff for m in models))


def _severity(decision: str) -> int:
    return DECISIONS.index(decision) if decision in DECISIONS else len(DECISIONS)


def _validation_tile(summary: ValidationSummary) -> Tile:
    base = {"key": "validation", "title": "Model validation", "page": PAGES["validation"]}
    if not summary.models:
        return Tile(**base, label="Latest decision", text=NO_RUN, empty=True,
                    lines=["Validate a model to see its DEPLOY / RESTRICT / REDESIGN decision."])
    # the worst of the models' latest decisions; among equals, the latest validated
    head = max(summary.models, key=lambda m: _severity(m.decision))
    n = len(summary.models)
    change_text = None
    if head.previous_decision is not None:
        change_text = (f"was {head.previous_decision}" if head.previous_decision != head.decision
                       else "unchanged from the previous run")
    waiting = summary.awaiting_signoff
    lines = [f"{waiting} of {n} model{'s' if n != 1 else ''} await{'s' if waiting == 1 else ''} "
             "sign-off" if waiting else "Every latest decision is signed off"]
    lines += [f"{m.decision}: {m.model}, {_day(m.validated_at)}" for m in summary.models]
    return Tile(**base, label="Latest decision" if n == 1 else f"Worst latest decision of {n} models",
                text=head.decision, change_text=change_text,
                as_of=max(m.validated_at for m in summary.models), lines=lines)


# --------------------------------------------------------------------------- market

def _open(breaches: pd.DataFrame) -> pd.DataFrame:
    return breaches[~breaches["false_positive"].astype(bool)] if len(breaches) else breaches


def _market(store: Store) -> MarketSummary:
    mode = market.current_mode(default=load_default_limits().mode, store=store)
    recent = market.recent_evaluations(limit=2, store=store)
    if not recent:
        return MarketSummary(mode=mode)
    latest = recent[0]
    previous = recent[1] if len(recent) > 1 else None
    var: list[VaRFigure] = []
    for d in latest.decisions:
        if d.sensor != "var_breach":
            continue
        key = d.rule.removeprefix("var_")
        prev = None if previous is None else previous.snapshot.var.get(key)
        var.append(VaRFigure(confidence=float(key), var=d.metric, limit=d.threshold,
                             utilisation=d.utilisation, breached=d.breached, previous_var=prev,
                             change=None if prev is None else d.metric - prev))
    decided = {d.rule: d for d in latest.decisions}  # a breach's rule was decided with it
    breaches = [OpenBreach(breach_id=str(b.breach_id), rule=str(b.rule),
                           rule_name=rule_label(str(b.rule)), sensor=str(b.sensor),
                           metric=float(b.metric), threshold=float(b.threshold),
                           utilisation=decided[str(b.rule)].utilisation,
                           action=str(b.action), evaluated_at=latest.evaluated_at)
                for b in _open(latest.breaches).itertuples()]
    return MarketSummary(
        evaluation_id=latest.evaluation_id, evaluated_at=latest.evaluated_at,
        previous_evaluation_id=None if previous is None else previous.evaluation_id, mode=mode,
        var=var, es_confidence=latest.snapshot.es_confidence, es=latest.snapshot.es,
        open_breaches=breaches,
        previous_open_breaches=None if previous is None else len(_open(previous.breaches)))


def _market_tile(summary: MarketSummary) -> Tile:
    base = {"key": "market", "title": "Market risk", "page": PAGES["market"]}
    mode_line = f"Enforcement mode: {summary.mode}"
    if summary.evaluation_id is None:
        return Tile(**base, label="VaR against its limit", text=NO_RUN, empty=True,
                    lines=["Evaluate the limits to see VaR against them.", mode_line])
    n_open = len(summary.open_breaches)
    was = ("" if summary.previous_open_breaches is None
           else f" (previous evaluation: {summary.previous_open_breaches})")
    lines = [f"Open breaches: {n_open}{was}", mode_line]
    head = max(summary.var, key=lambda v: v.utilisation) if summary.var else None
    for v in summary.var:
        lines.append(f"VaR {_confidence(v.confidence)}: {money_short(v.var)}, "
                     f"{pct(v.utilisation, digits=0)} of the {money_short(v.limit)} limit"
                     + (" (breached)" if v.breached else ""))
    if summary.es is not None and summary.es_confidence is not None:
        lines.append(f"ES {_confidence(summary.es_confidence)}: {money_short(summary.es)}")
    if head is None:  # limits without a VaR rule
        return Tile(**base, label="Open breaches", value=float(n_open), text=f"{n_open:,}",
                    as_of=summary.evaluated_at, lines=lines, higher_is_better=False)
    return Tile(**base, label=f"VaR {_confidence(head.confidence)}, {pct(head.utilisation, digits=0)} "
                f"of its limit", value=head.var, text=money_short(head.var),
                change=head.change,
                change_text=None if head.change is None
                else f"{_signed_money(head.change)} vs previous evaluation",
                higher_is_better=False, as_of=summary.evaluated_at, lines=lines)


# --------------------------------------------------------------------------- desk

def _desk(store: Store) -> tuple[DeskSummary, list[dict]]:
    view = live.desk(store=store)
    first = live.active_alerts(limit=500, store=store)
    found = first if first.total_active_alerts <= len(first.alerts) else \
        live.active_alerts(limit=first.total_active_alerts, store=store)
    alerts = list(found.alerts)
    severity = Counter(str(a["severity"]) for a in alerts)
    accounts = view.accounts
    levels: Counter[str] = Counter()
    halted: list[str] = []
    reducing: list[str] = []
    if len(accounts):
        levels = Counter(str(x) for x in accounts["risk_level"].dropna())
        halted = sorted(str(a) for a in accounts.loc[accounts["trading_state"] == "HALTED",
                                                     "account_id"])
        reducing = sorted(str(a) for a in accounts.loc[accounts["trading_state"] == "REDUCING",
                                                       "account_id"])
    summary = DeskSummary(
        session_id=None if view.session is None else view.session.session_id,
        as_of=None if view.session is None or view.session.as_of is None
        else _naive_utc(view.session.as_of),
        accounts=len(accounts),
        by_risk_level={k: levels.get(k, 0) for k in
                       (*RISK_LEVELS, *sorted(set(levels) - set(RISK_LEVELS)))},
        halted=halted, reducing=reducing,
        alerts_by_severity={k: severity.get(k, 0) for k in
                            (*SEVERITIES, *sorted(set(severity) - set(SEVERITIES)))},
        unacknowledged_alerts=len(alerts))
    return summary, alerts


def _counts(counts: dict[str, int]) -> str:
    shown = [f"{k} {n:,}" for k, n in counts.items() if n]
    return " · ".join(shown) if shown else "none"


def _desk_tile(summary: DeskSummary) -> Tile:
    base = {"key": "desk", "title": "Risk desk", "page": PAGES["desk"],
            "label": "Unacknowledged alerts"}
    if summary.session_id is None and summary.unacknowledged_alerts == 0:
        return Tile(**base, text=NO_RUN, empty=True,
                    lines=["Replay the desk's trades and prices to see accounts and alerts."])
    n = summary.unacknowledged_alerts
    halted = ", ".join(summary.halted) if summary.halted else "none"
    lines = [f"Alerts by severity: {_counts(summary.alerts_by_severity)}",
             f"{summary.accounts:,} accounts by risk level: {_counts(summary.by_risk_level)}",
             f"Halted: {halted}"]
    if summary.reducing:
        lines.append(f"Reducing only: {', '.join(summary.reducing)}")
    return Tile(**base, value=float(n), text=f"{n:,}", higher_is_better=False,
                as_of=summary.as_of, as_of_label="Feed time", lines=lines)


# --------------------------------------------------------------------------- pending

def _pending(validation: ValidationSummary, *, market_: MarketSummary,
             alerts: list[dict]) -> list[PendingItem]:
    signoffs = sorted((m for m in validation.models if m.awaiting_signoff),
                      key=lambda m: (m.validated_at, m.run_id))
    items = [PendingItem(kind="sign_off", what=f"Sign off {m.decision} of {m.model}",
                         who=_who("sign_off"), action="sign_off", since=m.validated_at,
                         page=PAGES["validation"], item_id=m.run_id) for m in signoffs]
    items += [PendingItem(kind="breach",
                          what=f"Review the breach of {b.rule_name}: "
                               f"{pct(b.utilisation, digits=0)} of its limit, action {b.action}",
                          who=_who("mark_false_positive"), action="mark_false_positive",
                          since=b.evaluated_at, page=PAGES["market"], item_id=b.breach_id)
              for b in sorted(market_.open_breaches, key=lambda b: (b.evaluated_at, b.breach_id))]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    ordered = sorted(alerts, key=lambda a: (rank.get(str(a["severity"]), len(rank)),
                                            _naive_utc(a["triggered_at"]), str(a["alert_id"])))
    items += [PendingItem(kind="alert",
                          what=f"Acknowledge the {a['severity']} alert on {a['account_id']}: "
                               f"{a['title']}",
                          who=_who("acknowledge_alert"), action="acknowledge_alert",
                          since=_naive_utc(a["triggered_at"]), page=PAGES["desk"],
                          item_id=str(a["alert_id"]), severity=str(a["severity"]))
              for a in ordered]
    return items


def decision_summary(*, store: Store | None = None, now: datetime | None = None) -> DecisionSummary:
    """The decision summary across credit, model validation, market risk and the risk desk.

    Reads each capability through its workflow, one short read session each; nothing is
    recomputed and nothing is written. A capability with nothing stored gives a tile that says
    :data:`NO_RUN`, not an error.

    Parameters
    ----------
    store : Store, optional
        Default: the store of ``$STRESSLAB_DB``.
    now : datetime, optional
        The summary's time (naive UTC, or aware and converted); default the wall clock.

    Returns
    -------
    DecisionSummary
        Plain data: ``model_dump(mode="json")`` is its JSON.

    Raises
    ------
    StoreBusyError
        If the store stayed busy for longer than its wait.
    """
    store = store if store is not None else Store()
    generated = _naive_utc(now) if now is not None else utc_now()
    credit_ = _credit(store)
    validation = _validation(store)
    market_ = _market(store)
    desk_, alerts = _desk(store)
    return DecisionSummary(
        generated_at=generated, credit=credit_, validation=validation, market=market_,
        desk=desk_,
        tiles=[_credit_tile(credit_), _validation_tile(validation), _market_tile(market_),
               _desk_tile(desk_)],
        pending=_pending(validation, market_=market_, alerts=alerts))
