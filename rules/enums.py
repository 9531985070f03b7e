"""The closed sets of values: roles, statuses, priorities, types and units.

The schema's CHECK constraints and the API's enums are both made from these tuples (the
migrations keep copies of their own: a migration is history and never imports them).
"""

from __future__ import annotations

ROLES = ("admin", "project_manager", "designer", "coordinator", "craftsman", "client")
USER_STATUSES = ("active", "invited", "inactive")
CLIENT_STATUSES = ("active", "prospect", "inactive", "archived")
PROJECT_TYPES = (
    "fit_out", "commercial", "residential", "retail", "hospitality", "office", "healthcare",
    "industrial", "mep", "millwork", "general_contractor", "management",
)
PROJECT_STATUSES = ("draft", "on_tender", "active", "on_hold", "completed", "cancelled")
PRIORITIES = ("low", "medium", "high", "urgent")
TASK_STATUSES = ("pending", "in_progress", "review", "completed", "cancelled")
SCOPE_STATUSES = ("pending", "in_progress", "on_hold", "completed", "cancelled")
DRAWING_STATUSES = (
    "draft", "submitted", "in_review", "approved", "approved_as_noted",
    "revise_and_resubmit", "rejected", "void",
)
SPEC_STATUSES = (
    "pending", "pending_approval", "approved", "revision_required", "rejected",
    "ordered", "in_stock", "delivered", "used",
)
UNITS = (
    "pcs", "sqm", "sqft", "lm", "lft", "m", "ft", "kg", "lb", "ton", "hours", "days", "lot",
    "set", "l",
)
