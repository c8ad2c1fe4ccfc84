"""Scenarios: the library (predefined, Federal Reserve, custom) side by side; a path scenario's
monthly factors drawn next to its peaks; build, edit, duplicate and delete custom scenarios;
import and export them as JSON; import the Federal Reserve's tables of any year."""

import streamlit as st

from dashboard import session, state
from dashboard.components.credit import (
    FACTORS,
    NEUTRAL,
    factor_guide,
    factor_help,
    factors_from_form,
    factors_to_form,
    fed_translation_view,
    library_table,
    scenarios_to_json,
)
from dashboard.components.format import plain, show_error
from dashboard.components.scenario_path import peak_table, scenario_path_figure
from engine.credit import FACTOR_RANGES, FED_RULE, fed_translations
from engine.credit._scenarios import (
    KEY_RULE,
    MAX_KEY_CHARS,
    PATH_RULE,
    monthly_factors,
    neutral_warnings,
    path_months,
)
from engine.credit.models import ScenarioDraft
from engine.credit.workflow import (
    custom_scenarios,
    delete_scenario,
    duplicate_scenario,
    import_fed_scenarios,
    import_scenarios,
    save_scenario,
    scenario_library,
)
from engine.errors import StressLabError

st.title("Scenarios")
st.caption("A scenario moves six market factors; a factor left at its neutral value (0 for "
           "shocks and spreads, 1 for multipliers) does nothing.")

SOURCES = {"predefined": "Predefined", "federal_reserve": "Federal Reserve",
           "custom": "Custom"}
#: Step of each factor's input, in the form's unit (pp for rates and spreads).
STEP = {"interest_rate_shock": 0.25, "discount_rate_shock": 0.25, "spread_widening": 0.25,
        "default_multiplier": 0.1, "recovery_multiplier": 0.05, "prepayment_multiplier": 0.1}
#: Short headers of the library table (the full name is the column's help).
SHORT = {"interest_rate_shock": "Rate pp", "discount_rate_shock": "Disc. pp",
         "default_multiplier": "Default ×", "recovery_multiplier": "Recov. ×",
         "prepayment_multiplier": "Prepay ×", "spread_widening": "Spread pp"}
def _label(factor: str) -> str:
    name, unit, _ = FACTORS[factor]
    return f"{name} ({unit})"


store = state.store()
library = scenario_library(store=store)
custom = custom_scenarios(store=store)

if msg := st.session_state.pop("scen_flash", None):
    st.success(msg)
for warning in st.session_state.pop("scen_flash_warnings", []):
    st.warning(plain(warning), icon=":material/warning:")

# --------------------------------------------------------------------------- library
st.subheader("Library")
table = library_table(library)
table["source"] = table["source"].map(SOURCES)
table.insert(3, "path", [f"{m} months" if (m := path_months(library[k])) else ""
                         for k in table["key"]])
factor_cols = {
    f: st.column_config.NumberColumn(
        SHORT[f], width=72, help=f"{_label(f)}: {factor_help(f)}",
        format="%+.2f" if FACTORS[f][1] == "pp" else "%.2f")
    for f in FACTOR_RANGES}
st.dataframe(table.drop(columns=["description"]), hide_index=True, width="stretch",
             # 200 + 128 + 112 + 64 + 6 × 72 = 936 px: the whole table within the 978 px
             # main column at 1440 px wide, no sideways scrolling
             column_config={"key": st.column_config.TextColumn("Key", width=200),
                            "name": st.column_config.TextColumn("Name", width=128),
                            "source": st.column_config.TextColumn("Source", width=112),
                            "path": st.column_config.TextColumn(
                                "Path", width=64,
                                help="Months a path scenario's factors move month by month; "
                                     "empty for constant factors."),
                            **factor_cols})
st.caption("Rates and spreads in percentage points (+3.00 = +300bp); multipliers as factors "
           "(1.00 = unchanged). A path scenario shows its peak (most severe) value of each "
           "factor; its month-by-month path is drawn below. Hover a column header for its "
           "meaning.")
with st.expander("What each factor does, and how the Federal Reserve scenarios were translated"):
    st.markdown("\n".join(
        f"- **{row['Factor']}** ({row['Unit']}; valid {row['Valid range']}, neutral "
        f"{row['Neutral']}): {row['Meaning']}" for row in factor_guide().to_dict("records")))
    st.markdown(f"**Federal Reserve translation rule.** {FED_RULE}")
    st.table(fed_translation_view(fed_translations()).set_index("Figure"))
    for key, sc in library.items():
        if sc.source == "federal_reserve":
            st.caption(f"`{key}`: {sc.description}")


# --------------------------------------------------------------------------- paths
paths = [k for k, sc in library.items() if sc.market_factors.is_path]
if paths:
    st.subheader("Scenario paths")
    pick = st.selectbox("Path scenario", paths, key="scen_path_pick",
                        format_func=lambda k: f"{library[k].name}  ({k})")
    chosen = library[pick]
    covered = path_months(chosen)
    c1, c2 = st.columns([3, 1])
    with c1:
        st.plotly_chart(
            scenario_path_figure(monthly_factors(chosen, covered + 12), path_end=covered),
            width="stretch", key="scen_path_chart")
    with c2:
        st.dataframe(peak_table(chosen.market_factors.constant()), hide_index=True,
                     width="stretch", key="scen_path_peaks")
    st.caption(f"{plain(PATH_RULE)} The dotted line marks month {covered}, where the path "
               "ends; the chart shows a further year at the held values. The peak column is "
               "what the peak-reading scenario holds for the whole projection.")


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
        values = sc.market_factors.constant()  # a path scenario starts the form at its peaks
        new_key = key if sc.source == "custom" else f"{key}_custom"
        st.session_state.update(scen_key=new_key, scen_name=sc.name if sc.source == "custom"
                                else f"{sc.name} (custom)", scen_desc=sc.description)
    for f, v in factors_to_form(values).items():
        st.session_state[f"scen_f_{f}"] = v


def _builder() -> None:
    """The form that saves a custom scenario (its key checked by the engine's rule)."""
    for f, v in factors_to_form(NEUTRAL).items():
        st.session_state.setdefault(f"scen_f_{f}", v)
    st.selectbox(
        "Start from", ["", *library], key="scen_start", on_change=_load_into_form,
        format_func=lambda k: ("Neutral (all factors neutral)" if not k
                               else f"{library[k].name}  ({k})"),
        help="Choose a custom scenario to edit it, or any scenario to start a copy from its "
             "factors.")
    with st.form("scen_form", border=True):
        c1, c2 = st.columns([1, 2])
        key = c1.text_input(
            "Key", key="scen_key", max_chars=MAX_KEY_CHARS,
            help=f"Short id used in requests and exports, e.g. `my_recession`: {KEY_RULE}. "
                 "Saving under an existing custom key replaces that scenario.")
        name = c2.text_input("Name", key="scen_name", max_chars=120,
                             help="Shown in tables and charts; empty means the key.")
        desc = st.text_input("Description", key="scen_desc")
        values = {}
        for i, (f, (lo, hi)) in enumerate(FACTOR_RANGES.items()):
            if i % 3 == 0:  # rows of three, so a narrow screen stacks them in reading order
                cols = st.columns(3)
            scale = FACTORS[f][2]
            values[f] = cols[i % 3].number_input(
                _label(f), min_value=lo * scale, max_value=hi * scale, step=STEP[f],
                format="%.2f", key=f"scen_f_{f}", help=factor_help(f))
        submitted = st.form_submit_button("Save scenario", type="primary")
    if not submitted:
        return
    try:
        draft = ScenarioDraft.build(key, name=name, description=desc,
                                    market_factors=factors_from_form(values))
        save_scenario(draft.key, scenario=draft.to_scenario(), store=store)
    except StressLabError as exc:
        show_error(exc)
        return
    st.session_state["scen_flash"] = (
        f"Saved custom scenario **{plain(draft.to_scenario().name)}** as {plain(draft.key)}. "
        "It is now in the library and on **Stress test**.")
    if (warning := draft.warning()) is not None:
        st.session_state["scen_flash_warnings"] = [warning]
    st.rerun()


def _manage() -> None:
    """Duplicate and delete the stored custom scenarios."""
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


def _import() -> None:
    """Store the scenarios of a JSON file, all or none."""
    imported = st.file_uploader("Import scenarios (JSON: key → {name, description, "
                                "market_factors})", type=["json"], key="scen_import")
    if imported is None or not st.button("Import", key="scen_import_go"):
        return
    try:
        keys = import_scenarios(imported.getvalue(), name=imported.name, store=store)
    except StressLabError as exc:
        show_error(exc)
        return
    stored = custom_scenarios(store=store)
    st.session_state["scen_flash"] = (f"Imported {len(keys)} scenario"
                                      f"{'s' if len(keys) != 1 else ''}: "
                                      + ", ".join(plain(k) for k in keys))
    st.session_state["scen_flash_warnings"] = neutral_warnings(
        {k: stored[k] for k in keys if k in stored})
    st.rerun()


def _import_fed() -> None:
    """Store the Federal Reserve scenarios of the Board's CSVs (or a zip of them), any year."""
    files = st.file_uploader(
        "Federal Reserve tables (the Board's CSVs, or one zip of them)", type=["csv", "zip"],
        accept_multiple_files=True, key="scen_fed_upload",
        help="Historic, Supervisory Baseline and Supervisory Severely Adverse Domestic tables "
             "of one year, recognised by their columns; International tables are ignored.")
    prefix = st.text_input("Key prefix (optional)", key="scen_fed_name", max_chars=100,
                           help="Default fed_<year>: keys fed_<year>_baseline, "
                                "fed_<year>_severely_adverse and the same ending _path.")
    if not files or not st.button("Import Federal Reserve scenarios", key="scen_fed_go"):
        return
    try:
        done = import_fed_scenarios({f.name: f.getvalue() for f in files},
                                    name=prefix.strip() or None, store=store)
    except StressLabError as exc:
        show_error(exc)
        return
    parts = [f"Federal Reserve {done.year} scenarios ({plain(done.horizon)}, jump-off "
             f"{plain(done.jump_off_quarter)})"]
    if done.stored:
        parts.append("stored " + ", ".join(plain(k) for k in done.stored))
    if done.built_in:
        parts.append("identical to the built-in " + ", ".join(plain(k) for k in done.built_in))
    st.session_state["scen_flash"] = "; ".join(parts) + "."
    st.session_state["scen_flash_warnings"] = [n for n in done.ignored
                                               if "International" not in n]
    st.rerun()


st.subheader("Build or edit a custom scenario")
if session.refuse_unless("edit_scenarios"):
    _builder()

# --------------------------------------------------------------------------- custom scenarios
st.subheader("Custom scenarios")
if not custom:
    st.info("No custom scenario yet: build one above or import a JSON file below.")
elif session.allowed("edit_scenarios"):
    _manage()
else:
    st.caption(f"{len(custom)} custom scenario{'s' if len(custom) != 1 else ''}, listed in the "
               "library above.")

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
    if session.allowed("edit_scenarios"):  # the refusal is said once, at the builder
        _import()

st.subheader("Federal Reserve scenarios of any year")
st.caption("Each scenario is stored twice: by its peak (constant factors) and as its "
           "13-quarter path, so both readings can be compared on **Stress test**.")
if session.allowed("edit_scenarios"):
    _import_fed()
