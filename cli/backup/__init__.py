"""Backups that restore: a consistent `pg_dump` with a manifest beside it, optionally sealed
with authenticated encryption, and a restore that leaves the target as it was on failure."""
