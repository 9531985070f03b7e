"""Authentication (passwords, tokens, sessions) and authorisation (roles, permissions)."""
