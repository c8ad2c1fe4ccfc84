"""Home: what StressLab does, the latest stress runs, and where to start."""

import streamlit as st

from dashboard import state
from dashboard.components.format import metric_columns
from dashboard.shell import PAGES
from engine.credit.workflow import count_runs, list_pools, list_runs

st.title("StressLab")
st.write(
    "StressLab stress-tests what a risk team holds: a loan pool's cashflows under predefined, "
    "Federal Reserve and custom scenarios; an ML model's inputs under noise, shift, missing "
    "data and out-of-range values; a portfolio's VaR and ES against its limits. "
    "Every pool and run is kept in one DuckDB file, so any result can be reopened, "
    "reproduced and downloaded."
)

store = state.store()
pools = list_pools(store=store)
runs = list_runs(store=store, limit=8)

c1, c2, c3 = st.columns(3)
c1.metric("Stored pools", f"{len(pools):,}")
c2.metric("Loans in the largest pool", f"{int(pools['n_assets'].max()):,}" if len(pools) else "–")
c3.metric("Stress runs stored", f"{count_runs(store=store):,}")

st.subheader("Latest stress runs")
if runs.empty:
    st.info("No stress run yet. Open **Stress test**, pick the Lending Club pool and a few "
            "scenarios, and press **Run stress test**.")
else:
    shown = runs[["started_at", "pool_name", "status", "n_scenarios", "worst_scenario_name",
                  "npv_change", "npv_change_percent", "run_id"]]
    st.dataframe(
        shown, hide_index=True, width="stretch",
        column_config={
            **metric_columns(shown.columns),
            "started_at": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm"),
            "pool_name": "Pool", "status": "Status",
            "n_scenarios": st.column_config.NumberColumn("Scenarios", format="%d"),
            "worst_scenario_name": "Worst scenario",
            "npv_change": st.column_config.NumberColumn("Worst NPV change (USD)", format="dollar"),
            "npv_change_percent": st.column_config.NumberColumn("Worst NPV change (%)",
                                                                format="%.2f%%"),
            "run_id": "Run",
        })

st.subheader("Workflows")
w1, w2, w3 = st.columns(3)
with w1:
    st.page_link(str(PAGES / "pools.py"), label="Pools", icon=":material/database:")
    st.caption("Upload a loan tape (CSV, Parquet, JSON, Excel), check it, and see its balance "
               "by grade, status and asset class.")
with w2:
    st.page_link(str(PAGES / "scenarios.py"), label="Scenarios", icon=":material/tune:")
    st.caption("Compare predefined and Federal Reserve scenarios, build your own, import and "
               "export them as JSON.")
with w3:
    st.page_link(str(PAGES / "stress_test.py"), label="Stress test", icon=":material/monitoring:")
    st.caption("Run scenarios over a pool with live progress, compare results, drill into "
               "loans and download the response.")
w4, w5, _ = st.columns(3)
with w4:
    st.page_link(str(PAGES / "ml_validation.py"), label="Model validation",
                 icon=":material/model_training:")
    st.caption("Stress a credit model's inputs, see how AUC, ECE and RMSE degrade, get a "
               "DEPLOY / RESTRICT / REDESIGN decision and download the evidence.")
with w5:
    st.page_link(str(PAGES / "market_risk.py"), label="VaR and limits",
                 icon=":material/monitoring:")
    st.caption("Compare VaR and ES methods, backtest them, replay 2008 and 2020, and enforce "
               "limits with a tamper-evident audit trail.")
