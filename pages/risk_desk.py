"""Risk desk: the bundled replay (start, pause, speed), one row per account, the P&L and
risk-score history, the alert inbox with acknowledgement, compliance results and the kill
switch. Lays out engine results (:mod:`engine.live.workflow`); computes nothing itself.

The replay runs on a background thread (:func:`dashboard.components.live.start_replay`); the
panels are a fragment that reruns every second while it runs, so the rest of the page (the
inbox, the forms) is not redrawn. Every action is a button callback that stores its message
for the next render, so the panels drawn after it already show its effect.

Roles (:mod:`dashboard.session`): acknowledging an alert needs ``acknowledge_alert``, a
compliance check ``run_compliance``, the kill switch and resume ``kill_switch`` (admin), starting
the replay ``run_market``; a refused role sees why in place of the control. The name recorded
with an acknowledgement, a kill switch or a resume is the signed-in user's.
"""

from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from dashboard import session, state
from dashboard.components import live as cl
from dashboard.components.format import money, pct, plain, show_error
from engine.errors import StressLabError
from engine.live import workflow as lw

REGULATIONS = ["mifid_ii", "cftc", "finra", "sec", "custom"]

st.title("Risk desk")
st.info(plain(lw.EXAMPLE_NOTE), icon=":material/science:")

flash_slot = st.empty()
flash = st.session_state.get("rd_flash")  # the last action's word lasts until the next action
if flash:
    kind, message = flash
    with flash_slot.container():
        if kind == "ok":
            st.success(plain(message))
        else:
            show_error(message)


def _act(action, build, say, *, needs: str) -> None:
    """Run a workflow action from a callback if the user's role may (``needs``, a key of
    ``engine.auth.ACTIONS``); say what happened on the next render."""
    if not session.allowed(needs):  # the control is not shown; a stale click stores nothing
        return
    try:
        done = action(build(), store=state.store())
    except StressLabError as exc:
        st.session_state["rd_flash"] = ("error", exc)
    else:
        st.session_state["rd_flash"] = ("ok", say(done))


def _start() -> None:
    if not session.allowed("run_market"):
        return
    try:
        st.session_state["rd_job"] = cl.start_replay(cl.SPEEDS[st.session_state["rd_speed"]])
    except StressLabError as exc:
        st.session_state["rd_flash"] = ("error", exc)


def _pause() -> None:
    job = st.session_state.get("rd_job")
    if job is not None:
        job.cancel.set()


def _choices(key: str, options: list) -> list:
    """``options`` for the select ``key``; a choice no longer among them (an acknowledged
    alert, a resumed account, none yet) becomes the first option."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0] if options else None
    return options


job = st.session_state.get("rd_job")
running = job is not None and job.running
if job is not None and not running and job.outcome:  # ended since the last render
    st.session_state.pop("rd_job")
    if "error" in job.outcome:
        with flash_slot.container():
            show_error(job.outcome["error"])
    else:
        flash_slot.success(plain(job.outcome["result"].summary))

controls = st.container(horizontal=True, vertical_alignment="bottom")
controls.select_slider("Replay speed", options=list(cl.SPEEDS), value="1 feed month a second",
                       key="rd_speed", disabled=running, width=360,
                       help="Feed time per second of wall-clock time. Pause to change it.")
may_run = session.allowed("run_market")
controls.button("Start replay" if not running else "Replaying…", key="rd_start", type="primary",
                on_click=_start, disabled=running or not may_run, icon=":material/play_arrow:",
                help=None if may_run else "Starting the replay needs the role analyst or admin.")
controls.button("Pause", key="rd_pause", on_click=_pause, disabled=not running,
                icon=":material/pause:")

store = state.store()
desk = lw.desk(store=store)
accounts = desk.accounts["account_id"].tolist() if desk.session is not None else []
if desk.session is None:
    st.info("No replay in the store yet. Press **Start replay** to replay the bundled example; "
            "the panels below fill in as it runs.")
chosen = st.selectbox("Account for the charts", _choices("rd_chart_account", accounts),
                      key="rd_chart_account", disabled=not accounts)


@st.fragment(run_every=1 if running else None)
def panels(account_id: str | None, page_desk: lw.DeskView) -> None:
    """Progress, the desk's rows and one account's charts; a tick of the fragment alone reads
    the desk again, a run of the whole page uses the desk it has just read."""
    job = st.session_state.get("rd_job")
    if job is not None and not job.running and st.session_state.get("rd_ticking"):
        st.session_state["rd_ticking"] = False
        st.rerun(scope="app")  # the replay ended: draw the page once more, then stop ticking
    st.session_state["rd_ticking"] = job is not None and job.running
    try:  # a tick of the fragment alone runs outside the app's error handling (dashboard/app.py)
        view = page_desk if st.session_state.pop("rd_page_run", False) else lw.desk(store=store)
    except StressLabError as exc:
        show_error(exc)
        return
    replay = view.session
    if replay is None:
        return
    status = "running" if st.session_state["rd_ticking"] else replay.status
    st.progress(replay.fraction,
                text=f"Events {replay.events_done:,} of {replay.events_total:,} ({status})")
    feed = replay.as_of.strftime("%Y-%m-%d %H:%M UTC") if replay.as_of else "–"
    st.caption(plain(f"Feed time {feed} · trades applied {replay.trades_applied:,}, "
                     f"rejected {replay.trades_rejected:,} · alerts raised "
                     f"{replay.alerts_raised:,} · {replay.trades_name}, {replay.prices_name}"))
    rows, config = cl.desk_columns(view.accounts)
    st.dataframe(rows, hide_index=True, width="stretch", column_config=config, key="rd_desk")
    if account_id is None or account_id not in set(view.accounts["account_id"]):
        return
    row = view.accounts.set_index("account_id").loc[account_id]
    m = st.columns(4)
    m[0].metric(f"Equity of {plain(account_id)} (USD)", plain(money(row["equity"])))
    m[1].metric("P&L total (USD)", plain(money(row["total_pl"])))
    m[2].metric("VaR 95% (1 day, USD)", plain(money(row["var_95"])),
                help="Historical 1-day value at risk of the current positions: the loss not "
                     "exceeded on 19 days out of 20.")
    m[3].metric("Margin utilisation", plain(pct(row["margin_utilization"], digits=1)),
                help="Margin required / equity.")
    try:
        history = lw.history(account_id, store=store)
    except StressLabError as exc:
        show_error(exc)
        return
    c1, c2 = st.columns(2)
    c1.plotly_chart(cl.pl_chart(history, account_id=account_id), key="rd_pl_chart")
    c2.plotly_chart(cl.risk_chart(history, account_id=account_id), key="rd_risk_chart")


st.subheader("Accounts")
st.session_state["rd_page_run"] = True
panels(chosen, desk)

# Keyed: the open tab survives the rerun after an action.
tab_alerts, tab_compliance, tab_kill = st.tabs(["Alert inbox", "Compliance", "Kill switch"],
                                               key="rd_section", on_change="rerun")

with tab_alerts:
    f1, f2 = st.columns([2, 1], vertical_alignment="bottom")
    who = f1.selectbox("Account", ["All accounts", *accounts], key="rd_alert_account")
    show_all = f2.checkbox("Include acknowledged", key="rd_alert_all")
    inbox = lw.alerts(account_id=None if who == "All accounts" else who,
                      include_acknowledged=show_all, store=store)
    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S UTC")
    st.caption(f"{len(inbox.alerts):,} alerts, newest first (read at {stamp}; the inbox is "
               "read again when you act on the page or when a replay pauses or ends).")
    if inbox.alerts:
        table, config, shown = cl.alert_columns(inbox.to_frame())
        st.dataframe(table, hide_index=True, width="stretch", column_config=config,
                     column_order=shown, key="rd_alerts", height=280)
        st.caption("More columns (type, risk score, escalation, who acknowledged, note, alert "
                   "id) are in the table's column menu.")
    open_alerts = {a["alert_id"]: a for a in inbox.alerts if not a["is_acknowledged"]}
    if session.refuse_unless("acknowledge_alert"):
        with st.form("rd_ack_form", border=True):
            st.markdown(f"**Acknowledge an alert** as {plain(session.current().user)}")
            st.selectbox("Alert", _choices("rd_ack_alert", list(open_alerts)),
                         key="rd_ack_alert", format_func=lambda i: cl.alert_label(open_alerts[i]))
            st.text_input("Note (optional)", key="rd_ack_note", max_chars=2000)
            st.form_submit_button(
                "Acknowledge", disabled=not open_alerts, on_click=lambda: _act(
                    lw.acknowledge, lambda: lw.AckRequest.build(
                        alert_id=st.session_state["rd_ack_alert"] or "",
                        by=session.current().user, requested_by=session.current().user,
                        note=st.session_state["rd_ack_note"] or None),
                    lambda d: f"Alert {d.alert_id} acknowledged by {d.acknowledged_by}.",
                    needs="acknowledge_alert"))

with tab_compliance:
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    c_account = c1.selectbox("Account", _choices("rd_comp_account", accounts),
                             key="rd_comp_account", disabled=not accounts)
    c2.multiselect("Regulations", REGULATIONS, default=REGULATIONS, key="rd_comp_regs",
                   format_func=lambda r: cl.REGULATION_NAMES.get(r, r))
    if session.refuse_unless("run_compliance"):
        st.button("Run compliance check", key="rd_comp_run", disabled=not accounts,
                  on_click=lambda: _act(
                      lw.compliance_check, lambda: lw.ComplianceRequest.build(
                          account_id=st.session_state["rd_comp_account"],
                          regulations=tuple(st.session_state["rd_comp_regs"]) or None,
                          requested_by=session.current().user),
                      lambda d: f"Compliance check of {d.report.account_id} stored: "
                                f"{len(d.report.results)} rules, {d.report.non_compliant} not "
                                "compliant.", needs="run_compliance"))
    if c_account is not None:
        checked = lw.compliance_results(c_account, store=store)
        if checked.check is None:
            st.caption("No compliance check of this account yet.")
        else:
            c = checked.check
            verdict = "compliant" if c["compliant"] else f"{c['non_compliant']} rules breached"
            as_of = "–" if c["as_of"] is None else f"{c['as_of']:%Y-%m-%d %H:%M}"
            st.caption(plain(f"Checked {c['checked_at']:%Y-%m-%d %H:%M} UTC on the book at feed "
                             f"time {as_of}: {c['rules_checked']} rules, "
                             f"{verdict}."))
            table, config, shown = cl.compliance_columns(checked.results)
            st.dataframe(table, hide_index=True, width="stretch", column_config=config,
                         column_order=shown, key="rd_compliance")
            st.caption("The detail, the action if breached and the source of each threshold are "
                       "in the table's column menu.")

with tab_kill:
    states = (dict(zip(desk.accounts["account_id"], desk.accounts["trading_state"]))
              if accounts else {})
    if session.refuse_unless("kill_switch"):
        me = session.current().user
        k1, k2 = st.columns(2)
        with k1.form("rd_kill_form"):
            st.markdown("**Kill switch**: every later trade of the account is rejected; the "
                        "other accounts carry on.")
            st.selectbox("Account", _choices("rd_kill_account", accounts),
                         key="rd_kill_account")
            st.radio("New state", ["HALTED", "REDUCING"], key="rd_kill_state", horizontal=True,
                     captions=["no trade at all", "only trades that reduce a position"])
            st.text_input("Reason", key="rd_kill_reason", max_chars=2000)
            st.checkbox(f"I confirm: stop this account's trading (recorded as {plain(me)})",
                        key="rd_kill_confirm")

            def _kill() -> None:
                if not st.session_state["rd_kill_confirm"]:
                    st.session_state["rd_flash"] = (
                        "error", StressLabError("tick the confirmation box to trigger the kill "
                                                "switch; nothing was changed"))
                    return
                user = session.current().user
                _act(lw.kill_switch, lambda: lw.KillSwitchRequest.build(
                    account_id=st.session_state["rd_kill_account"] or "",
                    reason=st.session_state["rd_kill_reason"], by=user, requested_by=user,
                    state=st.session_state["rd_kill_state"]),
                    lambda d: f"{d.account_id} is {d.new_state} (was {d.old_state}), by {d.by}.",
                    needs="kill_switch")
                st.session_state["rd_kill_confirm"] = False

            st.form_submit_button("Trigger kill switch", type="primary", on_click=_kill,
                                  disabled=not accounts)
        with k2.form("rd_resume_form"):
            st.markdown(f"**Resume trading**: the account is ACTIVE again (recorded as "
                        f"{plain(me)}).")
            stopped = [a for a, s in states.items() if s != "ACTIVE"]
            st.selectbox("Account", _choices("rd_resume_account", stopped),
                         key="rd_resume_account",
                         format_func=lambda a: f"{a} ({states.get(a, '?')})")
            st.text_input("Reason (optional)", key="rd_resume_reason", max_chars=2000)
            st.form_submit_button("Resume trading", disabled=not stopped, on_click=lambda: _act(
                lw.resume, lambda: lw.ResumeRequest.build(
                    account_id=st.session_state["rd_resume_account"] or "",
                    by=session.current().user, requested_by=session.current().user,
                    **({"reason": r} if (r := st.session_state["rd_resume_reason"].strip())
                       else {})),
                lambda d: f"{d.account_id} is {d.new_state} again, by {d.by}.",
                needs="kill_switch"))
