"""The StressLab Streamlit app: entry script, cached store and engine calls, components."""
