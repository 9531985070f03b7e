"""Workflows of the domain as pure state machines: no I/O, exhaustively unit-tested."""
