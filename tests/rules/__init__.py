"""Unit tests of the pure domain rules (`rules/`): no database, no server."""
