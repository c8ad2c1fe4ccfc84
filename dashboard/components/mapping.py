"""The Pools page's column-mapping editor: map an unfamiliar tape's columns to StressLab's
fields, preview the result live, save and reuse mappings (the tape is then read by
:func:`dashboard.components.credit.read_upload` with the mapping and the bad-rows choice).

Every number shown comes from an engine workflow (:func:`engine.credit.workflow.suggest_mapping`,
:func:`~engine.credit.workflow.preview_mapping`, :func:`~engine.credit.workflow.read_pool`);
this module only lays out widgets and turns their values into a
:class:`engine.ingest.ColumnMapping`. Widget keys carry the page's prefix ``pools_map_``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.components.format import plain, show_error
from engine.credit.workflow import (
    column_values,
    list_mappings,
    load_mapping,
    mapping_json,
    parse_mapping,
    preview_mapping,
    quarantine_csv,
    save_mapping,
    suggest_mapping,
)
from engine.errors import StressLabError
from engine.ingest import (
    ASSET_COLUMNS,
    CATEGORY_CODES,
    CHECK,
    ColumnMapping,
    PoolPreview,
    suggest_codes,
)
from engine.ingest._validate import UNIT_COLUMNS

__all__ = ["BAD_ROW_LABELS", "MONTHS_RULE", "mapping_editor",
           "cached_quarantine_csv"]

#: The bad-rows choice as the page words it.
BAD_ROW_LABELS = {
    "refuse": "Refuse the tape if any row is bad (nothing stored)",
    "quarantine": "Import the valid rows, quarantine the bad ones",
}
#: The month-counting convention of derived age and term, as the editor states it.
MONTHS_RULE = ("Whole calendar months: term from origination to maturity, age from origination "
               "to the cutoff date, remaining term = term − age. A month counts once its day of "
               "the month is reached; a month-end date completes the month (31 Jan → 30 Jun is "
               "5 months).")
NOT_MAPPED = "(not in the tape)"
CONSTANT = "(a constant)"
NO_MATURITY = "(none: term from a column)"
#: Reader names of the StressLab fields.
FIELD_LABELS = {
    "asset_id": "Loan id", "asset_class": "Asset class", "balance": "Balance (USD)",
    "rate": "Rate (annual)", "term": "Original term (months)", "age": "Age (months)",
    "original_balance": "Original balance (USD)", "rate_type": "Rate type",
    "prepayment_speed": "CPR (annual)", "default_probability": "CDR (annual)",
    "recovery_rate": "Recovery rate", "loss_severity": "Loss severity", "status": "Status",
    "grade": "Grade", "recovery_lag": "Recovery lag (months)",
}
_P = "pools_map_"


@st.cache_data(max_entries=4, show_spinner=False)
def _suggestion(content: bytes, filename: str):
    return suggest_mapping(content, filename=filename)


@st.cache_data(max_entries=16, show_spinner=False)
def _values(content: bytes, filename: str, column: str) -> list[str]:
    return column_values(content, filename=filename, column=column)


@st.cache_data(max_entries=8, show_spinner=False)
def _preview(content: bytes, filename: str, body: str, cutoff: date | None):
    return preview_mapping(content, filename=filename, mapping=parse_mapping(body),
                           cutoff_date=cutoff)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_quarantine_csv(pool_id: str, stored_at: str) -> bytes:
    """The quarantined rows of a stored pool as CSV. ``stored_at`` (the pool's created_at)
    keys the cache with the id, so a pool deleted and imported again is read afresh."""
    return quarantine_csv(pool_id, store=state.store())


# --------------------------------------------------------------------------- widget state

def _set_from(mapping: ColumnMapping | None, suggestion: Any, columns: list[str]) -> None:
    """Put a saved mapping's (or else the suggestion's) choices into the editor's widgets."""
    ss = st.session_state
    missing: dict[str, str] = {}  # field (or orig/mat) → a saved mapping's column not in the tape
    for field in ASSET_COLUMNS:
        src = mapping.fields.get(field) if mapping is not None else None
        ss.pop(f"{_P}const_{field}", None)
        if src is not None and src.constant is not None:
            ss[f"{_P}src_{field}"] = CONSTANT
            ss[f"{_P}const_{field}"] = src.constant
        elif src is not None:
            ss[f"{_P}src_{field}"] = src.column
            if src.column not in columns:
                missing[field] = src.column
        elif mapping is None and suggestion.fields.get(field):
            ss[f"{_P}src_{field}"] = suggestion.fields[field]
        else:
            ss[f"{_P}src_{field}"] = NOT_MAPPED
    for field in UNIT_COLUMNS:
        unit = (mapping.units.get(field) if mapping is not None else suggestion.units.get(field))
        ss[f"{_P}unit_{field}"] = unit or "decimal"
    if mapping is not None:
        d = mapping.dates
        ss[f"{_P}dates"] = d is not None
        ss[f"{_P}orig"] = d.origination if d is not None else NOT_MAPPED
        ss[f"{_P}mat"] = d.maturity if d is not None and d.maturity else NO_MATURITY
        if d is not None:
            missing.update({role: c for role, c in (("orig", d.origination),
                                                    ("mat", d.maturity))
                            if c is not None and c not in columns})
        ss[f"{_P}datefmt"] = (d.format if d is not None else None) or ""
        ss[f"{_P}name"] = mapping.name
        ss[f"{_P}values_seed"] = {f: dict(t) for f, t in mapping.values.items()}
    else:
        ss[f"{_P}dates"] = suggestion.origination is not None
        ss[f"{_P}orig"] = suggestion.origination or NOT_MAPPED
        ss[f"{_P}mat"] = suggestion.maturity or NO_MATURITY
        ss[f"{_P}datefmt"] = suggestion.date_format or ""
        ss[f"{_P}values_seed"] = {}
    ss[f"{_P}missing"] = missing
    ss[f"{_P}version"] = ss.get(f"{_P}version", 0) + 1  # fresh value-map editors


def _load_saved() -> None:
    name = st.session_state.get(f"{_P}saved")
    columns = st.session_state.get(f"{_P}columns", [])
    if name:
        try:
            mapping = load_mapping(name, store=state.store())
        except StressLabError as exc:
            st.session_state[f"{_P}load_error"] = str(exc)
            return
        _set_from(mapping, None, columns)


# --------------------------------------------------------------------------- the editor

def _value_table(field: str, column: str, distinct: list[str]) -> pd.DataFrame:
    seed = st.session_state.get(f"{_P}values_seed", {}).get(field, {})
    guessed = suggest_codes(field, distinct)
    values = list(dict.fromkeys([*distinct, *seed]))
    return pd.DataFrame({"source value": values,
                         "StressLab code": [seed.get(v, guessed.get(v)) for v in values]},
                        dtype="string")


def _mapping_from_widgets(*, columns: list[str], name: str,
                          tables: dict[str, pd.DataFrame]) -> ColumnMapping:
    """The editor's choices as a ColumnMapping (the engine checks every rule)."""
    ss = st.session_state
    columns = [*columns, *ss.get(f"{_P}missing", {}).values()]  # kept: the preview names them
    fields: dict[str, dict[str, Any]] = {}
    derive = bool(ss.get(f"{_P}dates"))
    maturity = ss.get(f"{_P}mat")
    derived = {"age"} | ({"term"} if derive and maturity not in (None, NO_MATURITY) else set())
    for field in ASSET_COLUMNS:
        if derive and field in derived:
            continue
        src = ss.get(f"{_P}src_{field}", NOT_MAPPED)
        if src == CONSTANT:
            value = ss.get(f"{_P}const_{field}")
            if value not in (None, ""):
                if ASSET_COLUMNS[field] == "int64" and isinstance(value, float) and value.is_integer():
                    value = int(value)
                fields[field] = {"constant": value}
        elif src in columns:
            fields[field] = {"column": src}
    values = {}
    seeds = ss.get(f"{_P}values_seed", {})
    for field, column in ss.get(f"{_P}missing", {}).items():
        if field in seeds and fields.get(field) == {"column": column}:
            values[field] = dict(seeds[field])  # no values to edit: the saved map is kept
    for field, table in tables.items():
        if field in fields and "column" in fields[field]:
            rows = table.dropna(subset=["StressLab code"])
            values[field] = {str(k): str(v) for k, v in zip(rows["source value"],
                                                            rows["StressLab code"], strict=True)}
    units = {f: ss.get(f"{_P}unit_{f}", "decimal") for f in UNIT_COLUMNS
             if f in fields and "column" in fields[f]}
    body: dict[str, Any] = {"name": name, "fields": fields, "values": values, "units": units}
    if derive and ss.get(f"{_P}orig") in columns:
        body["dates"] = {"origination": ss[f"{_P}orig"],
                         "maturity": maturity if maturity in columns else None,
                         "format": (ss.get(f"{_P}datefmt") or "").strip() or None}
    return parse_mapping(json.dumps(body), name="the mapping")


def mapping_editor(content: bytes, filename: str, *,
                   cutoff: date | None) -> tuple[str, PoolPreview] | None:
    """Lay out the mapping editor for an upload; return the mapping and its preview once the
    mapping is valid.

    Returns
    -------
    (str, PoolPreview) or None
        The mapping (JSON, as :func:`engine.credit.workflow.mapping_json` writes it) and the
        whole tape's validation under it, or None while the editor's choices do not make a
        valid mapping or the preview fails (the problem is shown).
    """
    ss = st.session_state
    try:
        suggestion = _suggestion(content, filename)
    except StressLabError as exc:
        show_error(exc)
        return None
    columns = list(suggestion.kinds)
    upload_key = hashlib.sha256(content).hexdigest() + filename
    ss[f"{_P}columns"] = columns
    if ss.get(f"{_P}for") != upload_key:
        ss[f"{_P}for"] = upload_key
        ss[f"{_P}name"] = f"{filename.split('.')[0]} mapping"[:80]
        ss[f"{_P}saved"] = ""
        _set_from(None, suggestion, columns)

    st.subheader("Map columns")
    st.caption("Pick the tape's column for each StressLab field (suggested by name and type), "
               "or a constant for a field the tape lacks. Fields left out are filled as for "
               "any tape: defaults, then the assumption table.")
    saved = list_mappings(store=state.store())["name"].tolist()
    st.selectbox("Reuse a saved mapping", ["", *saved], key=f"{_P}saved", on_change=_load_saved,
                 format_func=lambda n: n or "(none: start from the suggestions)")
    if ss.pop(f"{_P}load_error", None):
        st.markdown("That mapping could not be loaded; pick another.")
    # a saved mapping's columns this tape lacks stay chosen (the preview then fails, as the
    # command refuses), until the user picks another column or a constant
    kept = list(dict.fromkeys(c for c in ss.get(f"{_P}missing", {}).values()
                              if c not in columns))
    chosen = {ss.get(f"{_P}src_{f}") for f in ASSET_COLUMNS}
    if ss.get(f"{_P}dates"):
        chosen |= {ss.get(f"{_P}orig"), ss.get(f"{_P}mat")}
    lacking = [c for c in kept if c in chosen]
    if lacking:
        st.error("The saved mapping names columns this tape does not have: "
                 + ", ".join(plain(c) for c in lacking)
                 + ". They stay chosen (marked \"not in this tape\"), so the tape cannot be "
                   "imported until you pick another column or a constant for each; the saved "
                   "mapping is unchanged unless you save it.")

    def shown(c: str) -> str:
        if c in (NOT_MAPPED, CONSTANT, NO_MATURITY):
            return c
        return f"column {c} (not in this tape)" if c in kept else f"column {c}"

    options = [NOT_MAPPED, CONSTANT, *columns, *kept]
    derive = st.checkbox("Derive age and term from origination and maturity dates",
                         key=f"{_P}dates", help=MONTHS_RULE)
    if derive:
        d1, d2, d3 = st.columns(3)
        d1.selectbox("Origination date column", [NOT_MAPPED, *columns, *kept], key=f"{_P}orig",
                     format_func=shown)
        d2.selectbox("Maturity date column", [NO_MATURITY, *columns, *kept], key=f"{_P}mat",
                     format_func=shown)
        d3.text_input("Date format", key=f"{_P}datefmt", placeholder="%Y-%m-%d",
                      help="strftime codes, e.g. %m/%d/%Y for 03/01/2018; empty for ISO "
                           "(2018-03-01).")
        st.caption(MONTHS_RULE)
    derived = {"age"} | ({"term"} if derive and ss.get(f"{_P}mat") != NO_MATURITY else set())

    grid = st.columns(3)
    for i, field in enumerate(ASSET_COLUMNS):
        cell = grid[i % 3]
        if derive and field in derived:
            cell.text_input(FIELD_LABELS[field], value="derived from the dates", disabled=True,
                            key=f"{_P}derived_{field}")
            continue
        src = cell.selectbox(FIELD_LABELS[field], options, key=f"{_P}src_{field}",
                             format_func=shown)
        if src == CONSTANT:
            key = f"{_P}const_{field}"
            if field in CATEGORY_CODES:
                cell.selectbox(f"{FIELD_LABELS[field]}: constant", CATEGORY_CODES[field], key=key)
            elif ASSET_COLUMNS[field] == "string":
                cell.text_input(f"{FIELD_LABELS[field]}: constant", key=key)
            else:
                if not isinstance(ss.get(key), (int, float)):
                    ss.pop(key, None)
                cell.number_input(f"{FIELD_LABELS[field]}: constant", key=key, value=None,
                                  format="%.6g")
        elif field in UNIT_COLUMNS and src in columns:
            cell.radio(f"{FIELD_LABELS[field]}: unit", ["percent", "decimal"], horizontal=True,
                       key=f"{_P}unit_{field}",
                       help="Percent is divided by 100; StressLab stores rates as decimals.")

    tables: dict[str, pd.DataFrame] = {}
    mapped_categories = [f for f in CATEGORY_CODES if ss.get(f"{_P}src_{f}") in columns]
    if mapped_categories:
        st.markdown("**Values**: the StressLab code for each value found in the tape "
                    "(a value left blank is reported as a problem of its rows).")
        version = ss.get(f"{_P}version", 0)
        for tab, field in zip(st.tabs([FIELD_LABELS[f] for f in mapped_categories]),
                              mapped_categories, strict=True):
            column = ss[f"{_P}src_{field}"]
            with tab:
                try:  # any column's values, numeric codes (0/1/2/3) too
                    distinct = _values(content, filename, column)
                except StressLabError as exc:
                    show_error(exc)
                    return None
                tables[field] = st.data_editor(
                    _value_table(field, column, distinct),
                    key=f"{_P}values_{field}_{version}", hide_index=True, width="stretch",
                    disabled=["source value"], num_rows="fixed",
                    column_config={
                        "source value": st.column_config.TextColumn(f"Value in {column}"),
                        "StressLab code": st.column_config.SelectboxColumn(
                            "StressLab code", options=list(CATEGORY_CODES[field])),
                    })

    name = st.text_input("Save mapping as", key=f"{_P}name", max_chars=80)
    try:
        mapping = _mapping_from_widgets(columns=columns, name=name, tables=tables)
    except StressLabError as exc:
        st.markdown("**The mapping is not complete yet.**")
        show_error(exc)
        return None
    body = mapping_json(mapping)
    b1, b2 = st.columns(2)
    if b1.button("Save mapping", key=f"{_P}save"):
        try:
            new = save_mapping(mapping, store=state.store())
        except StressLabError as exc:
            show_error(exc)
        else:
            b1.success(f"{'Saved' if new else 'Replaced'} mapping {plain(mapping.name)}.")
    b2.download_button("Download mapping (JSON)", body.encode(), key=f"{_P}download",
                       file_name=f"{mapping.name}.json", mime="application/json")

    st.markdown("**Preview**: the first rows mapped, and the whole tape checked")
    try:
        preview = _preview(content, filename, body, cutoff)
    except StressLabError as exc:
        show_error(exc)
        return None
    p = st.columns(3)
    p[0].metric("Rows", f"{preview.n_rows:,}")
    p[1].metric("Valid rows", f"{preview.n_valid:,}")
    p[2].metric("Rows with problems", f"{preview.n_invalid:,}")
    for w in preview.warnings:
        if w.startswith(CHECK):
            st.warning(plain(w))
    st.dataframe(preview.frame, hide_index=True, width="stretch", key=f"{_P}preview")
    if preview.issues:
        issues = pd.DataFrame([i.as_dict() for i in preview.issues[:500]])
        issues["value"] = issues["value"].astype("string")
        st.markdown(f"**{len(preview.issues):,} problems** (first 500 shown)"
                    if len(preview.issues) > 500 else f"**{len(preview.issues):,} problems**")
        st.dataframe(issues, hide_index=True, width="stretch", key=f"{_P}issues")
    return body, preview
