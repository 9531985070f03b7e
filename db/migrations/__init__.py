"""Alembic migrations of the Formula PM schema."""
