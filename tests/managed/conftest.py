"""The managed-deployment tests use the live socket clients of the real-time tests."""

from tests.realtime.conftest import socks

__all__ = ["socks"]
