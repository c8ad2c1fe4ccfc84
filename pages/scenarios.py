"""Scenarios: the library (predefined, Federal Reserve, custom) side by side; build, edit,
duplicate and delete custom scenarios; import and export them as JSON."""

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.components.credit import scenario_factor_table, scenarios_to_json
from dashboard.components.format import plain, show_error
from engine.credit import FACTOR_HELP, FACTOR_RANGES, FED_RULE, fed_translations, make_scenario
from engine.credit.workflow import (
    custom_scenarios,
    delete_scenario,
    duplicate_scenario,
    import_scenarios,
    save_scenario,
    scenario_library,
)
from engine.errors import StressLabError

st.title("Scenarios")
st.caption("A scenario moves six market factors; a factor left at its neutral value (0 for "
           "shocks and spreads, 1 for multipliers) does nothing.")

SOURCES = {"predefined": "Predefined", "federal_reserve": "Federal Reserve 2025",
           "custom": "Custom"}
NEUTRAL = {"interest_rate_shock": 0.0, "discount_rate_shock": 0.0, "default_multiplier": 1.0,
           "recovery_multiplier": 1.0, "prepayment_multiplier": 1.0, "spread_widening": 0.0}
STEP = {"interest_rate_shock": 0.0025, "discount_rate_shock": 0.0025, "spread_widening": 0.0025,
        "default_multiplier": 0.1, "recovery_multiplier": 0.05, "prepayment_multiplier": 0.1}
FACTOR_LABEL = {
    "interest_rate_shock": "interest_rate_shock (decimal)",
    "discount_rate_shock": "discount_rate_shock (decimal)",
    "default_multiplier": "default_multiplier (×)",
    "recovery_multiplier": "recovery_multiplier (×)",
    "prepayment_multiplier": "prepayment_multiplier (×)",
    "spread_widening": "spread_widening (decimal)",
}

store = state.store()
library = scenario_library(store=store)
custom = custom_scenarios(store=store)

if msg := st.session_state.pop("scen_flash", None):
    st.success(msg)

# --------------------------------------------------------------------------- library
st.subheader("Library")
table = scenario_factor_table(library)
table["source"] = table["source"].map(SOURCES)
SHORT = {"interest_rate_shock": "rate shock", "discount_rate_shock": "discount shock",
         "default_multiplier": "default ×", "recovery_multiplier": "recovery ×",
         "prepayment_multiplier": "prepayment ×", "spread_widening": "spread widening"}
factor_cols = {
    f: st.column_config.NumberColumn(
        SHORT[f], width=100, help=f"{f}: {FACTOR_HELP[f]}",
        format="%+.4f" if f in ("interest_rate_shock", "discount_rate_shock", "spread_widening")
        else "%.2f")
    for f in FACTOR_RANGES}
st.dataframe(table.drop(columns=["description"]), hide_index=True, width="stretch",
             column_config={"key": st.column_config.TextColumn("Key", width=170),
                            "name": st.column_config.TextColumn("Name", width=230),
                            "source": st.column_config.TextColumn("Source", width=130),
                            **factor_cols})
with st.expander("What each factor does, and how the Federal Reserve scenarios were translated"):
    st.dataframe(pd.DataFrame([{"factor": f, "valid range": f"{lo:g} … {hi:g}",
                                "neutral": NEUTRAL[f], "meaning": FACTOR_HELP[f]}
                               for f, (lo, hi) in FACTOR_RANGES.items()]),
                 hide_index=True, width="stretch")
    st.markdown(f"**Federal Reserve translation rule.** {FED_RULE}")
    fed = pd.DataFrame([{**t.model_dump(exclude={"market_factors", "rule"})}
                        for t in fed_translations().values()])
    st.dataframe(fed, hide_index=True, width="stretch")
    for key, sc in library.items():
        if sc.source == "federal_reserve":
            st.caption(f"`{key}`: {sc.description}")


# --------------------------------------------------------------------------- builder
def _load_into_form() -> None:
    """Fill the form from the scenario chosen in "Start from" (a callback, before the form)."""
    key = st.session_state.get("scen_start")
    lib = scenario_library(store=state.store())
    if not key or key not in lib:
        values = dict(NEUTRAL)
        st.session_state.update(scen_key="", scen_name="", scen_desc="")
    else:
        sc = lib[key]
        values = sc.market_factors.model_dump()
        new_key = key if sc.source == "custom" else f"{key}_custom"
        st.session_state.update(scen_key=new_key, scen_name=sc.name if sc.source == "custom"
                                else f"{sc.name} (custom)", scen_desc=sc.description)
    for f, v in values.items():
        st.session_state[f"scen_f_{f}"] = float(v)


for f, v in NEUTRAL.items():
    st.session_state.setdefault(f"scen_f_{f}", v)

st.subheader("Build or edit a custom scenario")
st.selectbox(
    "Start from", ["", *library], key="scen_start", on_change=_load_into_form,
    format_func=lambda k: "Neutral (all factors neutral)" if not k else f"{library[k].name}  ({k})",
    help="Choose a custom scenario to edit it, or any scenario to start a copy from its factors.")

with st.form("scen_form", border=True):
    c1, c2 = st.columns([1, 2])
    key = c1.text_input("Key", key="scen_key", max_chars=60,
                        help="Short id used in requests and exports, e.g. `my_recession`. "
                             "Saving under an existing custom key replaces that scenario.")
    name = c2.text_input("Name", key="scen_name", max_chars=120)
    desc = st.text_input("Description", key="scen_desc")
    cols = st.columns(3)
    factors = {}
    for i, (f, (lo, hi)) in enumerate(FACTOR_RANGES.items()):
        factors[f] = cols[i % 3].number_input(
            FACTOR_LABEL[f], min_value=lo, max_value=hi, step=STEP[f], format="%.4f",
            key=f"scen_f_{f}",
            help=f"{FACTOR_HELP[f]} Valid range {lo:g} … {hi:g}; neutral {NEUTRAL[f]:g}.")
    submitted = st.form_submit_button("Save scenario", type="primary")

if submitted:
    try:
        scenario = make_scenario(name or key, description=desc, market_factors=factors)
        save_scenario(key, scenario=scenario, store=store)
    except StressLabError as exc:
        show_error(exc)
    else:
        st.session_state["scen_flash"] = (f"Saved custom scenario **{plain(scenario.name)}** as "
                                          f"{plain(key.strip())}. It is now in the library and on "
                                          "**Stress test**.")
        st.rerun()

# --------------------------------------------------------------------------- custom scenarios
st.subheader("Custom scenarios")
if not custom:
    st.info("No custom scenario yet: build one above or import a JSON file below.")
else:
    chosen = st.selectbox("Custom scenario", list(custom), key="scen_manage",
                          format_func=lambda k: f"{custom[k].name}  ({k})")
    d1, d2, d3 = st.columns([1, 1, 2])
    if d1.button("Duplicate", key="scen_duplicate", width="stretch"):
        try:
            new_key = duplicate_scenario(chosen, store=store)
        except StressLabError as exc:
            show_error(exc)
        else:
            st.session_state["scen_flash"] = f"Duplicated {plain(chosen)} as {plain(new_key)}."
            st.rerun()
    sure = d3.checkbox(f"Yes, delete {plain(chosen)}", key="scen_confirm_delete")
    if d2.button("Delete", key="scen_delete", disabled=not sure, width="stretch"):
        try:
            delete_scenario(chosen, store=store)
        except StressLabError as exc:
            show_error(exc)
        else:
            st.session_state.pop("scen_confirm_delete", None)
            st.session_state["scen_flash"] = f"Deleted {plain(chosen)}."
            st.rerun()
    st.caption("To edit a custom scenario, choose it in **Start from** above, change the factors "
               "and save under the same key.")

# --------------------------------------------------------------------------- import / export
st.subheader("Import and export")
e1, e2 = st.columns(2)
with e1:
    st.download_button(
        "Export custom scenarios (JSON)", data=scenarios_to_json(custom).encode("utf-8"),
        file_name="stresslab_custom_scenarios.json", mime="application/json",
        disabled=not custom, key="scen_export")
    st.download_button(
        "Export the whole library (JSON)", data=scenarios_to_json(library).encode("utf-8"),
        file_name="stresslab_scenarios.json", mime="application/json", key="scen_export_all")
with e2:
    imported = st.file_uploader("Import scenarios (JSON: key → {name, description, "
                                "market_factors})", type=["json"], key="scen_import")
    if imported is not None and st.button("Import", key="scen_import_go"):
        try:
            keys = import_scenarios(imported.getvalue(), name=imported.name, store=store)
        except StressLabError as exc:
            show_error(exc)
        else:
            st.session_state["scen_flash"] = (f"Imported {len(keys)} scenario"
                                              f"{'s' if len(keys) != 1 else ''}: "
                                              + ", ".join(plain(k) for k in keys))
            st.rerun()
