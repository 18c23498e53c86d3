"""Fine-Tuning Lab engine. Never imports streamlit: every feature works headless."""

__version__ = "0.1.0"
