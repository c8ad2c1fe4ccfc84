"""Hypothesis strategies for hostile input, and the one assertion every fuzz test makes.

Structured inputs look like real ones (a loan tape's header and rows, a pool JSON, a scenario
file) with hostile values in every cell; raw inputs are arbitrary bytes. Every profile is
derandomized and keeps no example database, so a CI run is reproducible.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from engine.errors import StressLabError

#: Every fuzz test starts from these settings and sets its own ``max_examples``.
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])


def engine_errors_only(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``call``; an engine error (a :class:`StressLabError`) is an accepted answer, any
    other exception fails the test. Returns the result, or None after an engine error."""
    try:
        return call(*args, **kwargs)
    except StressLabError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return None


#: Cell texts that have broken parsers before: numbers at the edge, words for numbers,
#: booleans, separators, quotes, line breaks, control and invisible characters, markup.
HOSTILE_TEXT = st.sampled_from([
    "", " ", "NaN", "nan", "-nan", "inf", "-inf", "Infinity", "1e308", "1e309", "-1e400",
    "4.9e-324", "1e-400", "0", "-0", "00012", "9" * 400, "1" * 5000, "0x1F", "1_000", "1,000.50",
    "12%", "5 %", "$1,000", "١٢٣", "½", "TRUE", "false", "True", "null", "None", "N/A", "-", ".",
    "2018-02-30", "0000-00-00", "9999-12-31T23:59:59", "Jan-2018", "60 months", " 36 months",
    '"', '""', '"a,b"', "a,b", "a\nb", "a\r\nb", "\r", "\t", "\x00", "\x1b[31m", "\ufeff",
    "\u202e", "\u200b", "é", "Ä", "ß", "🙂", "𝟙", "=HYPERLINK(\"http://x\")", "![p](http://h/x.png)",
    "<img src=x>", "A" * 300, "auto_loan", "AUTO_LOAN", "residential_mortgage", "performing",
    "delinquent", "defaulted", "fixed", "floating", "A", "G", "Z",
])
FLOAT_TEXT = st.floats(allow_nan=True, allow_infinity=True).map(repr)
INT_TEXT = st.integers(min_value=-(10**40), max_value=10**40).map(str)
CELL = st.one_of(HOSTILE_TEXT, FLOAT_TEXT, INT_TEXT, st.text(max_size=12))

#: Column names: the canonical ones (so validation runs), the other layouts' keys, and hostile.
COLUMNS = st.one_of(
    st.sampled_from(["asset_id", "asset_class", "balance", "rate", "term", "age",
                     "original_balance", "rate_type", "prepayment_speed", "default_probability",
                     "recovery_rate", "loss_severity", "status", "grade", "recovery_lag",
                     "loan_amount", "interest_rate", "installment", "issue_month", "loan_status",
                     "LoanId", "LoanAmount", "InterestRate", "LoanStartDate", "CurrentBalance"]),
    HOSTILE_TEXT, st.text(max_size=8),
)
NATIVE = ["asset_id", "asset_class", "balance", "rate", "term"]


#: Plausible values of the canonical columns, so that most tapes reach validation and many
#: are accepted; hostile cells are mixed in among them.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "asset_id": st.integers(1, 50).map(lambda i: f"L{i}"),
    "asset_class": st.sampled_from(["auto_loan", "consumer_loan", "residential_mortgage",
                                    "credit_card", "sme_loan"]),
    "balance": st.floats(1, 2e6, allow_nan=False),
    "rate": st.floats(0, 0.3, allow_nan=False),
    "term": st.integers(1, 480),
    "age": st.integers(0, 60),
    "status": st.sampled_from(["performing", "delinquent", "defaulted"]),
    "grade": st.sampled_from(["A", "B", "C", "D", "E", "F", "G"]),
    "rate_type": st.sampled_from(["fixed", "floating"]),
    "recovery_rate": st.floats(0, 1, allow_nan=False),
    "prepayment_speed": st.floats(0, 0.5, allow_nan=False),
}


def mostly(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any],
           *, odds: int = 7) -> st.SearchStrategy[Any]:
    """``valid`` ``odds`` times for each time ``hostile`` is drawn (shrinking goes to hostile)."""
    return st.sampled_from([False] + [True] * odds).flatmap(lambda ok: valid if ok else hostile)


def cells(column: str) -> st.SearchStrategy[Any]:
    """One cell of ``column``: mostly plausible when the column is known."""
    valid = PLAUSIBLE.get(column)
    return CELL if valid is None else mostly(valid.map(str), CELL)


@st.composite
def csv_tapes(draw: st.DrawFn) -> bytes:
    """A CSV loan tape: a header (mostly the native key columns and others, at times a column
    twice, at times anything), rows of mostly plausible and some hostile cells (ragged at
    times), written quoted or naively, in one of four encodings."""
    extra = st.lists(st.one_of(st.sampled_from(sorted(PLAUSIBLE)), COLUMNS), max_size=4)
    header = draw(mostly(st.one_of(st.just(NATIVE), extra.map(lambda e: NATIVE + e)),
                         st.lists(COLUMNS, max_size=8), odds=4))
    n_rows = draw(st.integers(0, 6))
    rows = []
    for _ in range(n_rows):
        width = draw(st.sampled_from([len(header)] * 6 + [max(len(header) - 1, 0),
                                                          len(header) + 1]))
        cols = (header + [""] * width)[:width]
        rows.append([draw(cells(c)) for c in cols])
    if draw(st.integers(0, 3)):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerow(header)
        writer.writerows(rows)
        text = buf.getvalue()
    else:  # naive joining: stray quotes, separators and line breaks stay as they are
        sep = draw(st.sampled_from([",", ",", ";", "\t"]))
        text = "\n".join(sep.join(r) for r in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    return text.encode(encoding, errors="replace")


#: JSON scalars, hostile ones included (huge and tiny numbers, infinities, booleans, text).
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), HOSTILE_TEXT, st.text(max_size=12),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def dumps(value: Any) -> bytes:
    """JSON text of ``value``; NaN and infinities written as Python writes them (not JSON)."""
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def pool_documents(draw: st.DrawFn) -> Any:
    """A pool JSON: the pool shape, a whole request, or a bare list of assets; each asset has
    mostly plausible fields and some hostile ones (any JSON value, unknown fields)."""
    def field_value(name: str) -> st.SearchStrategy[Any]:
        return mostly(PLAUSIBLE[name], JSON_VALUES, odds=12)

    asset = st.fixed_dictionaries(
        {k: field_value(k) for k in NATIVE},
        optional={**{k: field_value(k) for k in ("age", "status", "grade", "rate_type",
                                                 "recovery_rate", "prepayment_speed")},
                  "colour": JSON_SCALARS})
    assets = st.lists(mostly(asset, JSON_VALUES, odds=15), min_size=1, max_size=5)
    pool = st.fixed_dictionaries(
        {"assets": mostly(assets, JSON_VALUES, odds=3)},
        optional={"pool_id": st.one_of(st.just("p1"), JSON_SCALARS),
                  "pool_name": st.one_of(st.just("Pool"), JSON_SCALARS),
                  "cutoff_date": st.one_of(st.just("2024-06-30"), JSON_SCALARS),
                  "metadata": JSON_VALUES})
    shapes = st.sampled_from(["pool", "pool", "pool", "assets", "request", "anything"])
    shape = draw(shapes)
    if shape == "anything":
        return draw(JSON_VALUES)
    doc = draw(assets if shape == "assets" else pool)
    return {"request": {"pool": doc}} if shape == "request" else doc


#: Scenario keys: the reserved ones in every disguise, ordinary ones and hostile text.
SCENARIO_KEYS = mostly(
    st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
    st.one_of(st.sampled_from(["base", "Base", " base ", "BASE", "ｂａｓｅ", "ba\u200bse", "all",
                               "ALL", "credit_crisis", "credit-crisis", "Credit Crisis",
                               "fed_2025_baseline", "my_base", "", " ", "k" * 121, "\x00",
                               "\u202e"]),
              st.text(max_size=10)),
    odds=2)
FACTOR_NAMES = mostly(
    st.sampled_from(["interest_rate_shock", "discount_rate_shock", "default_multiplier",
                     "recovery_multiplier", "prepayment_multiplier", "spread_widening"]),
    st.text(max_size=8), odds=6)
FACTOR_VALUES = mostly(
    st.one_of(st.floats(-0.05, 0.2), st.floats(0.5, 1.5), st.integers(1, 3)),
    st.one_of(st.floats(-1, 6), st.integers(-3, 6), st.floats(allow_nan=True, allow_infinity=True),
              st.integers(min_value=-(10**400), max_value=10**400), JSON_VALUES),
    odds=3)


@st.composite
def scenario_documents(draw: st.DrawFn) -> Any:
    """A scenario file: key → {name, description, market_factors} with mostly plausible and
    some hostile keys, fields and factor values (extra fields, ``true``, text, huge numbers);
    at times a single scenario or not an object at all."""
    entry = mostly(
        st.fixed_dictionaries({}, optional={
            "name": mostly(st.text(min_size=1, max_size=40), st.one_of(st.text(max_size=130),
                                                                       JSON_SCALARS)),
            "description": mostly(st.text(max_size=20), JSON_VALUES),
            "market_factors": mostly(st.dictionaries(FACTOR_NAMES, FACTOR_VALUES, max_size=4),
                                     JSON_VALUES),
        }),
        st.one_of(JSON_VALUES, st.fixed_dictionaries({"name": st.just("X")}, optional={
            "source": st.sampled_from(["custom", "predefined"]), "colour": JSON_SCALARS})),
        odds=4)
    scenarios = st.dictionaries(SCENARIO_KEYS, entry, min_size=1, max_size=4)
    return draw(mostly(scenarios, st.one_of(entry, JSON_VALUES), odds=4))
