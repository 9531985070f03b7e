"""Plan clients and team members (users) of the organisation."""

from __future__ import annotations

from typing import Any

from importer import mapping as m
from importer.plan import Ctx, Ref, Row, append_notes, stamps, unique_records
from importer.report import FIXED, WARNING
from server.email_address import normalise_email

CLIENT_FIELDS = frozenset({
    "id", "companyName", "name", "contactPersonName", "email", "phone", "address", "city",
    "country", "industry", "status", "contractValue", "paymentTerms", "notes", "website",
    "taxNumber", "billingContact", "billingEmail", "createdAt", "updatedAt"})
MEMBER_FIELDS = frozenset({
    "id", "firstName", "lastName", "fullName", "email", "phone", "position", "role",
    "department", "status", "createdAt", "updatedAt"})


def plan_clients(ctx: Ctx, records: list[dict[str, Any]]) -> None:
    file = "clients"
    for legacy, r in unique_records(ctx, file, records):
        name = m.text(r.get("companyName")) or m.text(r.get("name"))
        if not name:
            ctx.skip(file, legacy, "companyName", "no company name")
            continue
        status = ctx.take(file, legacy, "status", m.map_client_status(r.get("status")))
        ctx.report.mapped(file, "status", r.get("status"), status)
        notes = append_notes(m.text(r.get("notes")), [
            ("Website", m.text(r.get("website"))), ("Tax number", m.text(r.get("taxNumber"))),
            ("Billing contact", m.text(r.get("billingContact"))),
            ("Billing e-mail", m.text(r.get("billingEmail")))])
        row_id = ctx.row_id("clients", legacy)
        ctx.add(Row("clients", ("legacy", legacy), {
            "id": row_id, "org_id": ctx.org_id, "legacy_id": legacy, "name": name[:300],
            "company_name": name, "contact_person": m.text(r.get("contactPersonName")),
            "email": m.text(r.get("email")), "phone": m.text(r.get("phone")),
            "address": m.text(r.get("address")), "city": m.text(r.get("city")),
            "country": m.text(r.get("country")), "industry": m.text(r.get("industry")),
            "status": status, "notes": notes,
            "contract_value": ctx.take(file, legacy, "contractValue",
                                       m.parse_decimal(r.get("contractValue"))),
            "payment_terms": m.text(r.get("paymentTerms")),
            **stamps(ctx, file, legacy, r)}, file, legacy))
        ctx.remember("clients", legacy, Ref(row_id, name=name))
        ctx.leftovers(file, r, CLIENT_FIELDS)


def _names(ctx: Ctx, legacy: str, r: dict[str, Any]) -> tuple[str, str] | None:
    first, last = m.text(r.get("firstName"), 200), m.text(r.get("lastName"), 200)
    if first and last:
        return first, last
    full = (m.text(r.get("fullName")) or "").split()
    if not (first or full):
        return None
    first = first or full[0]
    last = last or (" ".join(full[1:]) if len(full) > 1 else "-")
    ctx.report.issue("teamMembers", legacy, "lastName", FIXED,
                     f"name incomplete; taken as {first!r} {last!r} from fullName")
    return first, last


def _role(ctx: Ctx, legacy: str, r: dict[str, Any], managers: set[str]) -> str:
    mapped = m.map_role(r.get("role"), r.get("position"))
    role: str = ctx.take("teamMembers", legacy, "role", mapped)
    if role in ("coordinator", "craftsman", "designer") and legacy in managers:
        ctx.report.issue("teamMembers", legacy, "role", FIXED,
                         f"legacy role {r.get('role')!r} manages a project; made project_manager")
        role = "project_manager"
    ctx.report.mapped("teamMembers", "role", r.get("role"), role)
    return role


def _email_owner(ctx: Ctx, legacy: str, email: str, seen: set[str]) -> str | None:
    """Why this e-mail cannot be used for this member, or None when it can."""
    key = email.lower()
    if key in seen:
        return f"e-mail {email} is used by an earlier member of the file"
    seen.add(key)
    other = ctx.existing.emails.get(key)
    if other is None or (other.get("legacy_id") == legacy and other["org_id"] == ctx.org_id):
        return None
    if other["org_id"] != ctx.org_id:
        return f"e-mail {email} belongs to a user of another organisation"
    if other.get("legacy_id") is not None:
        return f"e-mail {email} belongs to user of legacy member {other['legacy_id']}"
    if ctx.existing.by_legacy["users"].get(legacy) is not None:
        return f"e-mail {email} belongs to another user of this organisation"
    # A user made here before the import (e.g. the admin): adopt it under the legacy id.
    ctx.existing.by_legacy["users"][legacy] = other
    ctx.report.issue("teamMembers", legacy, "email", WARNING,
                     f"matches existing user {email}; linked by e-mail, profile kept as is")
    return None


def _usable_email(raw: str | None) -> tuple[str | None, str]:
    """The address as the API would store it, or None and why no invitation could be
    mailed to it (control characters included: they used to make the invite fail)."""
    if not raw:
        return None, f"no usable e-mail ({raw!r})"
    try:
        return normalise_email(raw), ""
    except ValueError as exc:
        return None, f"no usable e-mail ({raw!r}): {exc}"


def plan_users(ctx: Ctx, records: list[dict[str, Any]], managers: set[str]) -> None:
    """Team members become users without a password: they get in through an invitation."""
    file, seen = "teamMembers", set[str]()
    for legacy, r in unique_records(ctx, file, records):
        email, unusable = _usable_email(m.text(r.get("email")))
        if email is None:
            ctx.skip(file, legacy, "email", unusable)
            continue
        why = _email_owner(ctx, legacy, email, seen)
        names = _names(ctx, legacy, r)
        if why or names is None:
            ctx.skip(file, legacy, "email" if why else "firstName", why or "no name")
            continue
        role = _role(ctx, legacy, r, managers)
        current = ctx.existing.by_legacy["users"].get(legacy)
        row_id = current["id"] if current else ctx.row_id("users", legacy)
        status = "inactive" if m.text(r.get("status")) == "inactive" else "invited"
        values = {"id": row_id, "org_id": ctx.org_id, "legacy_id": legacy, "email": email,
                  "first_name": names[0], "last_name": names[1], "role": role,
                  "position": m.text(r.get("position")), "phone": m.text(r.get("phone")),
                  "department": m.text(r.get("department")), "status": status,
                  **stamps(ctx, file, legacy, r)}
        if current is not None and (current["status"] == "active" or current["password_hash"]):
            # Someone who signs in here owns their account: only the legacy id is recorded.
            values = {"id": row_id, "org_id": ctx.org_id, "legacy_id": legacy}
            role, status = current["role"], current["status"]
        ctx.add(Row("users", ("legacy", legacy), values, file, legacy))
        name = f"{names[0]} {names[1]}"
        ctx.remember("users", legacy, Ref(row_id, name=m.text(r.get("fullName")) or name,
                                          extra={"role": role}))
        if status == "invited":
            ctx.report.invited.append({"email": email, "name": name, "role": role,
                                       "legacy_id": legacy})
        ctx.leftovers(file, r, MEMBER_FIELDS)
