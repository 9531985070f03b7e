"""Load every legacy JSON file and check its shape before anything is written.

A file is a JSON array of objects. Syntax errors (a truncated file) and values of the
wrong type are fatal and name the file, the record index and its id; values of the right
type that do not parse (a date "soon") are left to the planner, which reports them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.json_depth import too_deep
from server.validation import MAX_FREE_DEPTH

# file stem -> the kind of records it holds, in the order they are planned.
FILES = ("clients", "teamMembers", "projects", "scopeItems", "tasks", "shopDrawings",
         "materialSpecifications")

TEXT, NUM, REF, REFS, LIST, DICT, BOOL = "text", "number", "id", "ids", "list", "object", "bool"
_COMMON = {"id": REF, "createdAt": TEXT, "updatedAt": TEXT, "notes": TEXT}
SHAPES: dict[str, dict[str, str]] = {
    "clients": _COMMON | {
        "companyName": TEXT, "name": TEXT, "contactPersonName": TEXT, "email": TEXT,
        "phone": TEXT, "address": TEXT, "city": TEXT, "country": TEXT, "industry": TEXT,
        "status": TEXT, "website": TEXT, "taxNumber": TEXT, "billingContact": TEXT,
        "billingEmail": TEXT, "projectTypes": LIST, "contractValue": NUM, "paymentTerms": TEXT},
    "teamMembers": _COMMON | {
        "firstName": TEXT, "lastName": TEXT, "fullName": TEXT, "initials": TEXT, "email": TEXT,
        "phone": TEXT, "username": TEXT, "position": TEXT, "role": TEXT, "level": NUM,
        "department": TEXT, "reportsTo": TEXT, "status": TEXT, "permissions": LIST,
        "roleColor": TEXT, "hourlyRate": NUM, "roleLevel": NUM, "isCurrentUser": BOOL},
    "projects": _COMMON | {
        "name": TEXT, "type": TEXT, "description": TEXT, "status": TEXT, "priority": TEXT,
        "clientId": REF, "client": TEXT, "clientName": TEXT, "clientContact": TEXT,
        "clientEmail": TEXT, "budget": NUM, "location": TEXT, "startDate": TEXT,
        "endDate": TEXT, "projectManager": REF, "teamMembers": REFS, "progress": NUM},
    "scopeItems": _COMMON | {
        "description": TEXT, "name": TEXT, "quantity": NUM, "unitPrice": NUM, "unit": TEXT,
        "category": TEXT, "group": TEXT, "attachments": LIST, "projectId": REF,
        "totalPrice": NUM, "progress": NUM, "status": TEXT, "workflowStatus": TEXT,
        "shopDrawingId": REF, "materialSpecId": REF, "estimatedDuration": NUM,
        "actualStartDate": TEXT, "estimatedEndDate": TEXT, "actualEndDate": TEXT,
        "dependencies": REFS, "assignedTeamMembers": REFS, "blockingIssue": TEXT,
        "shopDrawingRequired": BOOL, "materialSpecRequired": BOOL},
    "tasks": _COMMON | {
        "projectId": REF, "name": TEXT, "description": TEXT, "status": TEXT,
        "priority": TEXT, "assignedTo": REF, "startDate": TEXT, "dueDate": TEXT,
        "progress": NUM, "estimatedHours": NUM, "actualHours": NUM, "completedAt": TEXT,
        "scopeItemIds": REFS, "category": TEXT, "tags": LIST, "files": LIST},
    "shopDrawings": _COMMON | {
        "fileName": TEXT, "originalFileName": TEXT, "projectId": REF, "projectName": TEXT,
        "drawingType": TEXT, "room": TEXT, "version": TEXT, "status": TEXT,
        "uploadDate": TEXT, "uploadedBy": TEXT, "uploadedById": REF, "approvedBy": TEXT,
        "approvedById": REF, "approvedDate": TEXT, "drawingNumber": TEXT,
        "scopeItemIds": REFS, "connectedTasks": REFS, "revisionHistory": LIST,
        "fileSize": NUM},
    "materialSpecifications": _COMMON | {
        "itemId": REF, "description": TEXT, "category": TEXT, "material": TEXT,
        "finish": TEXT, "hardware": TEXT, "manufacturer": TEXT, "supplierName": TEXT,
        "supplierContact": TEXT, "supplierPhone": TEXT, "supplierEmail": TEXT,
        "quantity": NUM, "unit": TEXT, "unitPrice": NUM, "currency": TEXT, "leadTime": NUM,
        "leadTimeUnit": TEXT, "status": TEXT, "approvedBy": TEXT, "approvedById": REF,
        "approvedDate": TEXT, "projectId": REF, "scopeItemIds": REFS,
        "shopDrawingIds": REFS, "specifications": DICT, "compliance": DICT,
        "deliveryInfo": DICT, "costBreakdown": DICT},
}


# Lists whose items have a shape of their own.
ITEMS: dict[tuple[str, str], str | dict[str, str]] = {
    ("shopDrawings", "revisionHistory"): {"version": TEXT, "date": TEXT, "status": TEXT,
                                          "comment": TEXT},
    ("tasks", "tags"): TEXT,
    ("clients", "projectTypes"): TEXT,
}


class LegacyFormatError(Exception):
    """A file cannot be imported at all; the message names the file and the record."""


@dataclass
class LegacyExport:
    """The records of each file present, keyed by file stem; `files` lists what was read."""

    directory: Path
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ignored_files: list[str] = field(default_factory=list)

    def get(self, stem: str) -> list[dict[str, Any]]:
        return self.records.get(stem, [])


def _type_ok(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return kind == BOOL
    checks: dict[str, Any] = {
        TEXT: lambda v: isinstance(v, str | int | float),
        NUM: lambda v: isinstance(v, str | int | float),
        REF: lambda v: isinstance(v, str | int),
        REFS: lambda v: isinstance(v, list) and all(
            isinstance(x, str | int) and not isinstance(x, bool) for x in v),
        LIST: lambda v: isinstance(v, list),
        DICT: lambda v: isinstance(v, dict),
        BOOL: lambda v: False,
    }
    return bool(checks[kind](value))


def _where(name: str, index: int, record: Any) -> str:
    rid = record.get("id") if isinstance(record, dict) else None
    return f"{name}: record #{index}" + (f" (id {rid!r})" if rid is not None else "")


def _check_items(name: str, index: int, record: dict[str, Any], stem: str) -> None:
    for (file, key), shape in ITEMS.items():
        if file != stem or not isinstance(record.get(key), list):
            continue
        for n, item in enumerate(record[key]):
            where = f"{_where(name, index, record)}: field \"{key}\" item #{n}"
            if isinstance(shape, str):
                if not _type_ok(shape, item) or item is None:
                    raise LegacyFormatError(f"{where} must be {shape}, "
                                            f"got {type(item).__name__}")
                continue
            if not isinstance(item, dict):
                raise LegacyFormatError(f"{where} must be an object, got {type(item).__name__}")
            for sub, kind in shape.items():
                if sub in item and not _type_ok(kind, item[sub]):
                    raise LegacyFormatError(f"{where}: \"{sub}\" must be {kind}, "
                                            f"got {type(item[sub]).__name__}")


def _check(name: str, index: int, record: Any, shape: dict[str, str]) -> None:
    if not isinstance(record, dict):
        raise LegacyFormatError(f"{_where(name, index, record)}: expected an object, "
                                f"got {type(record).__name__}")
    rid = record.get("id")
    if rid is None or isinstance(rid, bool) or not isinstance(rid, str | int) or (
            isinstance(rid, str) and not rid.strip()):
        raise LegacyFormatError(f"{_where(name, index, record)}: field \"id\" must be a "
                                f"number or a non-empty string, got {rid!r}")
    for key, kind in shape.items():
        if key in record and not _type_ok(kind, record[key]):
            got = type(record[key]).__name__
            raise LegacyFormatError(f"{_where(name, index, record)}: field \"{key}\" must be "
                                    f"{'a list of ids' if kind == REFS else kind}, got {got}")


def parse_array(name: str, raw: str) -> list[Any]:
    """Decode a JSON array element by element, so a syntax error names the record."""
    # The array, its records, and free-form values as deep as the API accepts: anything
    # deeper would be stored and then break whoever reads it back (and the parser itself).
    if too_deep(raw, MAX_FREE_DEPTH + 2) is not None:
        raise LegacyFormatError(f"{name}: nested deeper than {MAX_FREE_DEPTH + 2} levels "
                                f"(free-form values may nest at most {MAX_FREE_DEPTH})")
    decoder = json.JSONDecoder()
    pos = _skip(raw, 0)
    if not raw.startswith("[", pos):
        raise LegacyFormatError(f"{name}: expected a JSON array of records")
    pos = _skip(raw, pos + 1)
    items: list[Any] = []
    if raw.startswith("]", pos):
        return _end(name, raw, pos + 1, items)
    while True:
        try:
            item, pos = decoder.raw_decode(raw, pos)
        except json.JSONDecodeError as exc:
            raise LegacyFormatError(_syntax(name, items, exc)) from None
        items.append(item)
        pos = _skip(raw, pos)
        if raw.startswith(",", pos):
            pos = _skip(raw, pos + 1)
        elif raw.startswith("]", pos):
            return _end(name, raw, pos + 1, items)
        else:
            line = raw.count("\n", 0, pos) + 1
            what = "the file ends" if pos >= len(raw) else f"line {line} has {raw[pos]!r}"
            raise LegacyFormatError(f"{name}: after record #{len(items) - 1}"
                                    f"{_id_of(items[-1])} {what} (truncated or invalid JSON)")


def _skip(raw: str, pos: int) -> int:
    while pos < len(raw) and raw[pos] in " \t\r\n":
        pos += 1
    return pos


def _id_of(item: Any) -> str:
    return f" (id {item['id']!r})" if isinstance(item, dict) and "id" in item else ""


def _syntax(name: str, items: list[Any], exc: json.JSONDecodeError) -> str:
    after = f", after record #{len(items) - 1}{_id_of(items[-1])}" if items else ""
    return (f"{name}: record #{len(items)}{after}: invalid JSON at line {exc.lineno} "
            f"column {exc.colno}: {exc.msg} (truncated file?)")


def _end(name: str, raw: str, pos: int, items: list[Any]) -> list[Any]:
    if _skip(raw, pos) != len(raw):
        raise LegacyFormatError(f"{name}: unexpected text after the closing ']'")
    return items


def read_export(directory: Path) -> LegacyExport:
    """Read and validate every known file in `directory`; raise on the first bad one."""
    if not directory.is_dir():
        raise LegacyFormatError(f"{directory}: not a directory")
    export = LegacyExport(directory)
    for stem in FILES:
        path = directory / f"{stem}.json"
        if not path.exists():
            continue
        name = path.name
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LegacyFormatError(f"{name}: cannot be read: {exc}") from None
        records = parse_array(name, raw)
        for index, record in enumerate(records):
            _check(name, index, record, SHAPES[stem])
            _check_items(name, index, record, stem)
        export.records[stem] = records
    export.ignored_files = sorted(p.name for p in directory.glob("*.json")
                                  if p.stem not in FILES)
    if not export.records:
        raise LegacyFormatError(f"{directory}: none of the legacy files is there "
                                f"({', '.join(f + '.json' for f in FILES)})")
    return export
