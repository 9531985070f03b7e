"""The roles table: one role per schema role, and the few facts every route relies on."""

from __future__ import annotations

import pytest

from rules.enums import ROLES
from rules.permissions import PERMISSIONS, Perm, Role, can, is_staff, permissions_of


def test_one_role_per_schema_role_each_with_a_row() -> None:
    assert tuple(Role) == ROLES
    assert set(PERMISSIONS) == set(Role)


def test_admin_may_everything_a_client_only_read() -> None:
    assert permissions_of("admin") == frozenset(Perm)
    assert permissions_of("client") == {Perm.READ}


@pytest.mark.parametrize("role", ["intern", "", "ADMIN"])
def test_an_unknown_role_may_nothing(role: str) -> None:
    assert permissions_of(role) == frozenset()
    assert not can(role, Perm.READ)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_and_staff_comment(role: str) -> None:
    assert can(role, Perm.READ)
    assert can(role, Perm.COMMENT) == is_staff(role) == (role != "client")
