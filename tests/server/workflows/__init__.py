"""Unit tests of the pure workflow state machines."""
