"""Pools: upload a loan tape, check it, review the assumptions it will get, store it; browse the
stored pools with their statistics, preview and delete them."""

from datetime import date
from pathlib import Path

import streamlit as st

from dashboard import session, state
from dashboard.components.credit import (
    FIELD_NAMES,
    UPLOAD_TYPES,
    VALUE_FIELDS,
    assumptions_view,
    cached_assumptions,
    cached_breakdown,
    cached_pool,
    cached_summary,
    detect_upload_format,
    loan_columns,
    read_upload,
    remove_pool,
    store_pool,
)
from dashboard.components.credit_charts import breakdown_chart
from dashboard.components.mapping import (
    BAD_ROW_LABELS,
    cached_quarantine_csv,
    mapping_editor,
)
from dashboard.components.format import metric_columns, money, money_short, pct, plain, show_error
from engine.credit.workflow import list_pools
from engine.display import term
from engine.errors import StressLabError
from engine.ingest import CHECK

st.title("Pools")
st.caption("A pool is a loan tape validated and stored with the behavioural assumptions "
           "(CPR, CDR, recovery) filled in where the tape lacks them.")

FORMAT_LABELS = {
    "auto": "Detect from the header",
    "native": "Native (StressLab columns)",
    "lendingclub": "Lending Club loan tape",
    "loan-record": "Loan record (LoanId, LoanAmount, …)",
    "map": "Map columns (your own mapping)",
    "mapped": "Mapped columns",
}
#: The earliest cutoff date the picker takes (historical tapes from 1990 on).
EARLIEST_CUTOFF = date(1990, 1, 1)

#: Help of the assumption table's rate columns.
RATE_HELP = {
    "prepayment_speed": term("cpr").help,
    "default_probability": term("cdr").help,
    "recovery_rate": term("recovery_rate").help,
    "delinquent_default_probability": "The CDR given to loans delinquent at the cutoff date.",
}
#: How the assumptions a pool got are shown (see ``assumptions_view``).
ASSUMPTION_COLUMNS = {
    "Loans": st.column_config.NumberColumn("Loans", format="%,d"),
    "Value": st.column_config.TextColumn(
        "Value", help="Rates as percentages (annual), lags in months."),
    "Source": st.column_config.TextColumn(
        "Source", help="Where the figure comes from; each source is described in the "
                       "assumptions document (ASSUMPTIONS.md) shipped with StressLab."),
}

#: The preview's two tables (each fits the page at 1440 px): the loans' terms, and the
#: behavioural values each loan carries (from the tape or the assumptions).
LOAN_TERMS = ("asset_id", "asset_class", "status", "grade", "balance", "original_balance",
              "rate", "rate_type", "term", "age")
LOAN_BEHAVIOUR = ("asset_id", "prepayment_speed", "default_probability", "recovery_rate",
                  "loss_severity", "recovery_lag")

tab_stored, tab_upload = st.tabs(["Stored pools", "Upload a pool"])

# --------------------------------------------------------------------------- upload
def _upload_tab() -> None:
    """The upload form: read, check and preview a tape, then store it."""
    upload = st.file_uploader(
        "Loan tape: CSV (also .csv.gz), Parquet, JSON or Excel (.xlsx)", type=UPLOAD_TYPES,
        key="pools_upload")
    if upload is None:
        return
    content = upload.getvalue()
    stem = Path(upload.name).name.split(".")[0]
    try:
        detected = detect_upload_format(content, upload.name)
        st.info(f"Detected format: **{FORMAT_LABELS[detected]}**. Choose another mapping "
                "below if this is wrong.")
    except StressLabError as exc:
        detected = None
        st.warning(f"{plain(exc)} Choose it under **Mapping** below.")
    c1, c2, c3, c4 = st.columns([1.2, 1, 1.4, 1])
    fmt = c1.selectbox("Mapping", [f for f in FORMAT_LABELS if f != "mapped"],
                       format_func=FORMAT_LABELS.get, key="pools_format")
    pool_id = c2.text_input("Pool id", value=stem.lower().replace(" ", "-"), key="pools_id")
    pool_name = c3.text_input("Pool name", value=upload.name, key="pools_name")
    cutoff = c4.date_input("Cutoff date", value=None, key="pools_cutoff",
                           min_value=EARLIEST_CUTOFF, max_value=date(date.today().year + 1, 12, 31),
                           help="The date balances and ages refer to, from 1990-01-01 on. "
                                "Required for loan-record tapes and for a mapping that derives "
                                "age from dates; the Lending Club tape defaults to 2018-06-30.")
    bad_rows = st.radio("Bad rows", list(BAD_ROW_LABELS), format_func=BAD_ROW_LABELS.get,
                        key="pools_bad_rows", horizontal=True,
                        help="Quarantined rows are kept with the pool, counted on it and "
                             "downloadable; they are not stress-tested.")
    mapping_body = None
    if fmt == "map" or (detected is None and fmt == "auto"):
        edited_map = mapping_editor(content, upload.name, cutoff=cutoff)
        if edited_map is None:
            return
        mapping_body, preview = edited_map
        if preview.n_valid == 0 or any(i.row is None for i in preview.issues):
            st.markdown("**Not importable yet**: fix the mapping until the problems of whole "
                        "columns are gone and some rows are valid.")
            return
        if preview.n_invalid and bad_rows == "refuse":
            st.markdown(f"**{preview.n_invalid:,} rows have problems.** Fix the mapping, or "
                        "choose to quarantine the bad rows above.")
            return

    st.markdown("**Assumptions for values the tape does not carry** — edit a cell to "
                "override it for this upload. Rates are shown as percentages and typed as "
                "decimals (0.127 for 12.7%); the recovery lag is in months.")
    table = cached_assumptions()
    shown = table[["asset_class", "grade", *VALUE_FIELDS]]
    typed = "Shown as a percentage; type a decimal (0.127 for 12.7%)."
    edited = st.data_editor(
        shown, key="pools_assumptions", hide_index=True, width="stretch",
        disabled=["asset_class", "grade"],
        column_config={
            "asset_class": st.column_config.TextColumn("Asset class"),
            "grade": st.column_config.TextColumn("Grade"),
            **{f: st.column_config.NumberColumn(FIELD_NAMES[f], min_value=0.0, max_value=1.0,
                                                format="percent", help=f"{words} {typed}")
               for f, words in RATE_HELP.items()},
            "recovery_lag": st.column_config.NumberColumn(
                FIELD_NAMES["recovery_lag"], min_value=0, max_value=120, step=1, format="%d"),
        })
    try:
        pool = read_upload(content, upload.name, fmt="auto" if mapping_body else fmt,
                           mapping_body=mapping_body, pool_id=pool_id, pool_name=pool_name,
                           cutoff_date=cutoff, edited_assumptions=edited, bad_rows=bad_rows)
    except StressLabError as exc:
        st.markdown("**The file was not stored.**")
        show_error(exc)
        return
    s = st.columns(4)
    s[0].metric("Loans", f"{pool.n_assets:,}")
    s[1].metric("Balance (USD)", money_short(pool.total_balance),
                help=f"Exactly {money(pool.total_balance)}.")
    s[2].metric("Format", FORMAT_LABELS.get(pool.source_format, pool.source_format))
    s[3].metric("Cutoff date", str(pool.cutoff_date or "–"))
    if bad_rows == "quarantine":
        st.metric("Quarantined rows", f"{pool.n_quarantined:,}",
                  help="Rows that broke a rule: kept with the pool, not imported.")
    st.markdown("**Assumptions that will be applied** (values filled where the tape has none)")
    st.dataframe(assumptions_view(pool.assumptions), hide_index=True, width="stretch",
                 column_config=ASSUMPTION_COLUMNS)
    for w in pool.warnings:
        if w.startswith(CHECK):
            st.warning(plain(w))
        else:
            st.caption(f"Note: {plain(w)}")
    if st.button("Save pool", type="primary", key="pools_save"):
        try:
            saved = store_pool(pool, source_file=upload.name)
        except StressLabError as exc:
            show_error(exc)
        else:
            st.session_state["pools_selected"] = saved.pool_id
            if saved.created:
                kept = (f" {saved.n_quarantined:,} bad rows were quarantined (download them "
                        "in **Stored pools**)." if saved.n_quarantined else "")
                st.success(f"Stored pool **{plain(saved.pool_name)}** ({saved.n_assets:,} "
                           f"loans) as {plain(saved.pool_id)}. It is now in **Stored pools** "
                           f"and on **Stress test**.{kept}")
            else:
                kept = (f" It keeps its {saved.n_quarantined:,} quarantined rows."
                        if saved.n_quarantined or pool.n_quarantined else "")
                st.info(f"This pool is already stored as {plain(saved.pool_id)}; nothing was "
                        f"written.{kept}")
                for w in (w for w in saved.warnings if w not in pool.warnings):
                    st.warning(plain(w))


with tab_upload:
    if session.refuse_unless("upload_pool"):
        _upload_tab()

# --------------------------------------------------------------------------- stored pools
with tab_stored:
    pools = list_pools(store=state.store())
    if pools.empty:
        st.info("No pool is stored yet: upload one in **Upload a pool**.")
        st.stop()
    st.dataframe(
        pools.assign(source_format=pools["source_format"].map(
            lambda f: FORMAT_LABELS.get(f, f))), hide_index=True, width="stretch",
        column_config={
            **metric_columns(pools.columns),
            "pool_id": "Pool id", "pool_name": "Name", "source_format": "Format",
            "cutoff_date": st.column_config.DateColumn("Cutoff date"),
            "created_at": st.column_config.DatetimeColumn("Stored (UTC)", format="YYYY-MM-DD HH:mm"),
            "n_quarantined": st.column_config.NumberColumn(
                "Quarantined", format="%d",
                help="Rows of the tape that broke a rule, kept with the pool, not imported."),
        })
    ids = pools["pool_id"].tolist()
    names = dict(zip(pools["pool_id"], pools["pool_name"], strict=True))
    stored_at = dict(zip(pools["pool_id"], pools["created_at"], strict=True))
    if st.session_state.get("pools_selected") not in ids:
        st.session_state["pools_selected"] = ids[0]
    pool_id = st.selectbox("Pool", ids, format_func=lambda k: f"{names[k]}  ({k})",
                           key="pools_selected")
    try:
        summary = cached_summary(pool_id)
    except StressLabError as exc:
        show_error(exc)
        st.stop()

    rate, maturity, cdr = term("wac"), term("wam"), term("wa_cdr")
    m = st.columns([0.8, 1, 1, 1.35, 1])
    m[0].metric("Loans", f"{summary['n_assets']:,}", help=f"{summary['n_active']:,} active")
    m[1].metric("Balance (USD)", money_short(summary["total_balance"]),
                help=f"Exactly {money(summary['total_balance'])}.")
    m[2].metric(rate.name, pct(summary["weighted_average_coupon"]),
                help="The pool's annual note rate, weighted by loan balance, over the active "
                     "loans (WAC, weighted average coupon).")
    m[3].metric(maturity.name, f"{summary['weighted_average_remaining_term']:.1f} months",
                help=f"{maturity.help} Over the active loans; also called WART (weighted "
                     "average remaining term).")
    m[4].metric(cdr.name, pct(summary["weighted_average_cdr"]),
                help=f"{cdr.help} Annual, over the active loans.")

    if summary.get("n_quarantined"):
        st.markdown(f"**{summary['n_quarantined']:,} rows of this pool's tape were "
                    "quarantined** on import: they broke a rule and are not in the figures.")
        st.download_button("Download quarantined rows (CSV)",
                            cached_quarantine_csv(pool_id, str(stored_at[pool_id])),
                            file_name=f"{pool_id}-quarantined.csv", mime="text/csv",
                            key="pools_quarantine_download")

    splits = {"grade": "grade", "status": "status", "asset_class": "asset class"}
    for tab, (by, label) in zip(st.tabs([f"By {v}" for v in splits.values()]), splits.items(),
                                strict=True):
        with tab:
            frame = cached_breakdown(pool_id, by)
            left, right = st.columns([3, 2])
            left.plotly_chart(breakdown_chart(frame, by, label=label), key=f"pools_chart_{by}")
            right.dataframe(frame, hide_index=True, width="stretch",
                            column_config={**metric_columns(frame.columns), by: label.capitalize()})

    pool = cached_pool(pool_id)  # one copy out of the cache for both expanders
    with st.expander("Preview: the first 200 loans"):
        loans = pool.frame.head(200)
        terms, behaviour = st.tabs(["Terms", "Behaviour (CPR, CDR, recovery)"])
        terms.dataframe(loans[[c for c in LOAN_TERMS if c in loans]], hide_index=True,
                        width="stretch", column_config=loan_columns())
        behaviour.dataframe(loans[[c for c in LOAN_BEHAVIOUR if c in loans]], hide_index=True,
                            width="stretch", column_config=loan_columns())
    with st.expander("Assumptions applied when this pool was stored"):
        st.dataframe(assumptions_view(pool.assumptions), hide_index=True,
                     width="stretch", column_config=ASSUMPTION_COLUMNS)

    with st.expander("Delete this pool"):
        if session.refuse_unless("upload_pool"):
            st.write(f"Deleting **{plain(names[pool_id])}** removes the pool and its loans; its "
                     "past runs stay readable.")
            sure = st.checkbox(f"Yes, delete {plain(pool_id)}", key="pools_confirm_delete")
            if st.button("Delete pool", type="secondary", disabled=not sure, key="pools_delete"):
                try:
                    remove_pool(pool_id)
                except StressLabError as exc:
                    show_error(exc)
                else:
                    st.session_state.pop("pools_selected", None)
                    st.session_state.pop("pools_confirm_delete", None)
                    st.rerun()
