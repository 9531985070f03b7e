"""The `formula-pm` command line and process-only work
(start-up checks, tuning, backups)."""
