"""Explicit SQL per resource; each function takes a connection and plain values."""
