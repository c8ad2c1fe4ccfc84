"""Scenario handbook: build, edit, import and export stress_scenarios.json."""

from __future__ import annotations

import streamlit as st

from dashboard import session
from dashboard.components.format import plain, show_error
from dashboard.components.mlrisk import (
    HANDBOOK_COLUMNS,
    current_handbook,
    handbook_frame,
    parse_level,
    set_handbook,
    stress_type_name,
)
from dashboard.state import store
from engine.errors import StressLabError
from engine.mlrisk import STRESS_TYPES, default_handbook, parse_handbook
from engine.mlrisk.workflow import list_handbooks, load_handbook, save_handbook

st.title("Scenario handbook")
st.caption("Each scenario stresses one input (or slices one subgroup) with its own seed, and says which real-world "
           "event it stands for, its expected business impact and its severity (1–5). Fractions are decimals "
           "(0.30 = 30 %). The Model validation page runs this handbook.")


def _field(name: str, what: str = "") -> str:
    """Help text naming the field of stress_scenarios.json a form input fills."""
    return f"{what} Field `{name}` of stress_scenarios.json.".strip()


try:
    handbook = current_handbook()
except StressLabError as exc:  # a broken handbook in the session: start again from the default
    show_error(exc)
    handbook = default_handbook()
    set_handbook(handbook)

st.dataframe(handbook_frame(handbook), hide_index=True, column_config=HANDBOOK_COLUMNS, key="ml_hb_table",
             column_order=["scenario_id", "stress_type", "severity_level", "parameters", "seed"])
with st.expander("What each scenario stands for: description, real-world event, expected business impact"):
    st.markdown("\n".join(
        f"- **{plain(s.scenario_id)}**: {plain(s.description) or '–'}  \n"
        f"  Real-world event: {plain(s.real_world_event) or '–'}  \n"
        f"  Expected business impact: {plain(s.expected_business_impact) or '–'}"
        for s in handbook.scenarios))
ids = [s.scenario_id for s in handbook.scenarios]

# ---------------------------------------------------------------- add or edit
st.subheader("Add or edit a scenario")
if session.refuse_unless("edit_handbook"):
    pick = st.selectbox("Scenario", ["(new scenario)", *ids], key="ml_hb_pick")
    current = next((s for s in handbook.scenarios if s.scenario_id == pick), None)
    stress_type = st.selectbox("Stress type", STRESS_TYPES, key=f"ml_hb_type_{pick}", format_func=stress_type_name,
                               index=STRESS_TYPES.index(current.stress_type) if current else 0,
                               help=_field("stress_type"))

    def _key(name: str) -> str:
        """Form widget keys carry the scenario and stress type, so switching shows that scenario's values."""
        return f"ml_hb_{name}_{pick}_{stress_type}"

    p = dict(current.parameters) if current and current.stress_type == stress_type else {}
    with st.form(f"ml_hb_form_{pick}_{stress_type}", clear_on_submit=current is None):
        sid = st.text_input("Scenario id (letters, digits, _ . -)", value=current.scenario_id if current else "",
                            key=_key("id"), help=_field("scenario_id", "A short unique name."))
        c1, c2 = st.columns(2)
        params: dict = {}
        if stress_type == "SUBGROUP":
            params["column"] = c1.text_input("Column", value=p.get("column", "EDUCATION"), key=_key("column"),
                                             help=_field("column", "The column whose level is sliced out."))
            params["value"] = c2.text_input("Level", value=str(p.get("value", "")), key=_key("value"),
                                            help=_field("value", "The rows with this value form the subgroup."))
        else:
            params["feature"] = c1.text_input("Feature (numeric column)", value=p.get("feature", "BILL_AMT1"),
                                              key=_key("feature"), help=_field("feature", "The input stressed."))
            if stress_type == "NOISE":
                params["std_dev_multiplier"] = c2.number_input(
                    "Noise (standard deviations of the feature)", value=float(p.get("std_dev_multiplier", 0.5)),
                    key=_key("sdm"), help=_field("std_dev_multiplier", "Gaussian noise with σ = this × the "
                                                 "feature's standard deviation."))
            elif stress_type == "FEATURE_SHIFT":
                mode = c2.radio("Shift", ["multiplicative", "additive"], horizontal=True, key=_key("mode"),
                                index=1 if "shift_amount" in p else 0)
                amount = c2.number_input("Shift (decimal share, or feature units if additive)",
                                         value=float(p.get("shift_percentage", p.get("shift_amount", -0.3))),
                                         key=_key("shift"),
                                         help=_field("shift_percentage", "Multiplicative: −0.3 lowers every "
                                                     "value by 30 %. Additive (field `shift_amount`): added to "
                                                     "every value."))
                params["shift_percentage" if mode == "multiplicative" else "shift_amount"] = amount
            elif stress_type == "MISSINGNESS":
                params["missing_percentage"] = c2.number_input(
                    "Share of values removed (decimal)", value=float(p.get("missing_percentage", 0.3)),
                    key=_key("missing"), help=_field("missing_percentage", "0.3 removes 30 % of the values."))
                params["imputation"] = c2.selectbox("Filled with the training", ["median", "mean"],
                                                    key=_key("imputation"),
                                                    index=1 if p.get("imputation") == "mean" else 0,
                                                    help=_field("imputation"))
            else:  # OUT_OF_DISTRIBUTION
                params["scale_factor"] = c2.number_input(
                    "Scale beyond the training maximum (> 1)", value=float(p.get("scale_factor", 1.5)),
                    key=_key("scale"), help=_field("scale_factor", "1.5 pushes values to 1.5 × the training "
                                                   "maximum."))
                params["fraction"] = c2.number_input("Share of rows pushed (decimal)",
                                                     value=float(p.get("fraction", 1.0)), key=_key("fraction"),
                                                     help=_field("fraction"))
        seed = c1.number_input("Seed", min_value=0, value=int(current.seed if current else 0), key=_key("seed"),
                               help=_field("seed", "The scenario's own random seed."))
        severity = c2.slider("Severity (1 mild – 5 severe)", 1, 5, int(current.severity_level if current else 3),
                             key=_key("severity"), help=_field("severity_level"))
        description = st.text_input("Description", value=current.description if current else "",
                                    key=_key("desc"), help=_field("description"))
        event = st.text_input("Real-world event", value=current.real_world_event if current else "",
                              key=_key("event"), help=_field("real_world_event", "What in the world it stands for."))
        impact = st.text_input("Expected business impact",
                               value=current.expected_business_impact if current else "", key=_key("impact"),
                               help=_field("expected_business_impact"))
        if st.form_submit_button("Save scenario", type="primary"):
            if "value" in params:
                params["value"] = parse_level(params["value"])
            entry = {"scenario_id": sid.strip(), "stress_type": stress_type, "parameters": params,
                     "seed": int(seed), "severity_level": int(severity), "description": description.strip(),
                     "real_world_event": event.strip(), "expected_business_impact": impact.strip()}
            try:
                set_handbook(handbook.with_scenario(entry, replacing=current.scenario_id if current else None))
                st.session_state["ml_hb_flash"] = f"Scenario {plain(entry['scenario_id'])} saved."
                st.rerun()
            except StressLabError as exc:
                show_error(exc)

    if msg := st.session_state.pop("ml_hb_flash", None):
        st.success(msg)

    c1, c2 = st.columns(2)
    with c1:
        gone = st.selectbox("Delete a scenario", ids, key="ml_hb_delete_pick")
        if st.button("Delete", key="ml_hb_delete"):
            try:
                set_handbook(handbook.without_scenario(gone))
                st.rerun()
            except StressLabError as exc:
                show_error(exc)
    with c2:
        st.write("")
        if st.button("Reset to the default handbook", key="ml_hb_reset"):
            set_handbook(default_handbook())
            st.rerun()

# ---------------------------------------------------------------- import / export / store
st.subheader("Import and export")
editor = session.allowed("edit_handbook")
c1, c2 = st.columns(2)
with c1:
    if editor:
        up = st.file_uploader("Import stress_scenarios.json", type=["json"], key="ml_hb_import")
        if up is not None and st.button("Replace the handbook with this file", key="ml_hb_import_go"):
            try:
                set_handbook(parse_handbook(up.getvalue(), subject=f"handbook {up.name}"))
                st.session_state["ml_hb_flash"] = f"Imported {plain(up.name)}."
                st.rerun()
            except StressLabError as exc:
                show_error(exc)
with c2:
    if session.allowed("download"):
        st.download_button("Export stress_scenarios.json", handbook.to_json(), file_name="stress_scenarios.json",
                           mime="application/json", key="ml_hb_export", icon=":material/download:")

if editor:
    with st.expander("Saved handbooks (in the store)"):
        name = st.text_input("Name", value="my handbook", key="ml_hb_save_name")
        if st.button("Save to the store", key="ml_hb_save"):
            try:
                saved_as = save_handbook(handbook, name=name, store=store())
                st.success(f"Saved as {plain(repr(saved_as))}.")
            except StressLabError as exc:
                show_error(exc)
        saved = list_handbooks(store=store())
        if saved:
            which = st.selectbox("Open a saved handbook", saved, key="ml_hb_open_pick")
            if st.button("Open", key="ml_hb_open"):
                try:
                    set_handbook(load_handbook(which, store=store()))
                    st.rerun()
                except StressLabError as exc:
                    show_error(exc)
