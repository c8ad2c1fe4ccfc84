"""StressLab engine: all computation, storage and the command line; never imports streamlit."""

__version__ = "0.2.0"

__all__ = ["__version__"]
