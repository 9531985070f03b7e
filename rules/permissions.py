"""Roles and what each may do: one table, pure functions, used by every route (through
`server.auth.permissions.require`) and by the workflows.

Fixes of the first system: no role may be chosen by its holder, `requireRole([...])` let
everyone through, coordinators and craftsmen saw all tasks. Project scope is not decided
here but by membership and row-level security; this table says what a role may do
within the projects it can see.
"""

from __future__ import annotations

from enum import StrEnum

from rules.enums import ROLES


class Role(StrEnum):
    ADMIN = "admin"
    PROJECT_MANAGER = "project_manager"
    DESIGNER = "designer"
    COORDINATOR = "coordinator"
    CRAFTSMAN = "craftsman"
    CLIENT = "client"


assert tuple(Role) == ROLES


class Perm(StrEnum):
    MANAGE_USERS = "manage_users"
    MANAGE_CALENDAR = "manage_calendar"
    MANAGE_ORGANIZATION = "manage_organization"  # its report settings (the logo)
    CREATE_CLIENTS = "create_clients"
    MANAGE_CLIENTS = "manage_clients"
    CREATE_PROJECTS = "create_projects"
    EDIT_PROJECTS = "edit_projects"
    DELETE_PROJECTS = "delete_projects"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_SCOPE = "manage_scope"
    CREATE_TASKS = "create_tasks"
    EDIT_TASKS = "edit_tasks"
    UPDATE_TASK_PROGRESS = "update_task_progress"
    DELETE_TASKS = "delete_tasks"
    CREATE_DRAWINGS = "create_drawings"
    EDIT_DRAWINGS = "edit_drawings"
    SUBMIT_DRAWINGS = "submit_drawings"
    REVIEW_DRAWINGS = "review_drawings"
    MANAGE_MATERIALS = "manage_materials"
    SUBMIT_MATERIALS = "submit_materials"
    APPROVE_MATERIALS = "approve_materials"
    COMMENT = "comment"
    VIEW_AUDIT = "view_audit"
    VIEW_ORG_AUDIT = "view_org_audit"
    READ = "read"


_STAFF_BASE = {Perm.READ, Perm.COMMENT, Perm.VIEW_AUDIT}

PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.PROJECT_MANAGER: frozenset(_STAFF_BASE | {
        # A manager signs up the client of a new project; changing or removing a client
        # the whole organisation shares stays with admins.
        Perm.CREATE_CLIENTS,
        Perm.CREATE_PROJECTS, Perm.EDIT_PROJECTS, Perm.MANAGE_MEMBERS, Perm.MANAGE_SCOPE,
        Perm.CREATE_TASKS, Perm.EDIT_TASKS, Perm.UPDATE_TASK_PROGRESS, Perm.DELETE_TASKS,
        Perm.CREATE_DRAWINGS, Perm.EDIT_DRAWINGS, Perm.SUBMIT_DRAWINGS, Perm.REVIEW_DRAWINGS,
        Perm.MANAGE_MATERIALS, Perm.SUBMIT_MATERIALS, Perm.APPROVE_MATERIALS,
    }),
    Role.DESIGNER: frozenset(_STAFF_BASE | {
        Perm.CREATE_TASKS, Perm.EDIT_TASKS, Perm.UPDATE_TASK_PROGRESS,
        Perm.CREATE_DRAWINGS, Perm.EDIT_DRAWINGS, Perm.SUBMIT_DRAWINGS,
        Perm.MANAGE_MATERIALS, Perm.SUBMIT_MATERIALS,
    }),
    Role.COORDINATOR: frozenset(_STAFF_BASE | {
        Perm.MANAGE_SCOPE, Perm.CREATE_TASKS, Perm.EDIT_TASKS, Perm.UPDATE_TASK_PROGRESS,
        Perm.SUBMIT_DRAWINGS, Perm.MANAGE_MATERIALS, Perm.SUBMIT_MATERIALS,
    }),
    Role.CRAFTSMAN: frozenset(_STAFF_BASE | {Perm.UPDATE_TASK_PROGRESS}),
    Role.CLIENT: frozenset({Perm.READ}),
}


def permissions_of(role: str) -> frozenset[Perm]:
    try:
        return PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def can(role: str, perm: Perm) -> bool:
    return perm in permissions_of(role)


def is_staff(role: str) -> bool:
    return role != Role.CLIENT
