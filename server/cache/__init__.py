"""The read cache: its store (Redis or memory), key scheme, cached reads, invalidation and admin."""
