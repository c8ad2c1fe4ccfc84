"""Home: what StressLab does and where to start."""

import streamlit as st

st.title("StressLab")
st.write(
    "StressLab stress-tests what a risk team holds: it projects a loan pool's cashflows under "
    "predefined, regulatory and custom scenarios, stresses ML models' inputs to see how they "
    "degrade, and checks market VaR against limits. Every run is stored in one DuckDB file, "
    "so it can be reopened, reproduced and exported."
)
