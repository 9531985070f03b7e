"""Reports drawn as PDF: the weekly project report (weekly.py, drawn by render.py)."""
