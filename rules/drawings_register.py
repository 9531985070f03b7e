"""The drawing register's rules: disciplines from drawing numbers, ISO 19650 revision and
status codes, and guesses of number / title / revision from a file name or a PDF's text.

Pure functions of their arguments (standard library only): the server reads files and rows,
these decide.

Revision codes (ISO 19650-2, UK National Annex):
- `P01.01`, `P01.02`, ... work in progress (a version of the next preliminary revision);
- `P01`, `P02`, ... preliminary: shared for coordination, review or information;
- `C01`, `C02`, ... contractual: published (authorised) for construction or as constructed.
Within a drawing revisions are ordered P before C, then by number; the work-in-progress
versions of a preliminary revision come before it (`P01.01` < `P01.02` < `P01` < `P02.01`).

Status (suitability) codes:
- `S0` work in progress; `S1` fit for coordination; `S2` fit for information; `S3` fit for
  review and comment; `S4` fit for stage approval: the shared (preliminary) states;
- `A1`, `A2`, ... authorised and accepted (published, e.g. for construction), one per stage;
- `B1`, `B2`, ... partially signed off, with comments;
- `CR` as constructed record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from rules.errors import InvalidInput

# The discipline codes: the longest prefix of a drawing number wins (`FP-01` is fire
# protection, not a `F...` number; `ID-201` interior design, not `I...`).
DISCIPLINES: Mapping[str, str] = MappingProxyType({
    "A": "Architectural",
    "ID": "Interior Design",
    "M": "Mechanical",
    "E": "Electrical",
    "P": "Plumbing",
    "S": "Structural",
    "FF": "Furniture & Fixtures",
    "FP": "Fire Protection",
    "L": "Landscape",
    "C": "Civil",
    "G": "General",
    "T": "Telecommunications",
    "Q": "Equipment",
    "AV": "Audio Visual",
    "LT": "Lighting",
    "SG": "Signage",
})
DISCIPLINE_CODES = tuple(DISCIPLINES)
REVISION_KINDS = ("wip", "preliminary", "contractual")
PURPOSES = ("for_information", "for_review", "for_construction", "for_tender")

NUMBER_MAX = 60
TITLE_MAX = 300
_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9._/-]{0,59}$")
_REVISION = re.compile(r"^(?P<kind>[PC])(?P<major>\d{2})(?:\.(?P<minor>\d{2}))?$")
_STATUS = re.compile(r"^(?:S[0-4]|[AB][1-9]\d?|CR)$")


def normal_number(number: str) -> str:
    """A drawing number as stored: trimmed, upper case; refused when it is not one."""
    value = number.strip().upper()
    if not _NUMBER.match(value):
        raise InvalidInput("A drawing number is letters, digits and . _ / - (up to 60).",
                           code="invalid_drawing_number",
                           errors=[{"field": "number", "message": "not a drawing number"}])
    return value


def normal_discipline(code: str) -> str:
    """A discipline code as stored (upper case); refused when it is not a known one."""
    value = code.strip().upper()
    if value not in DISCIPLINES:
        raise InvalidInput(f"Unknown discipline {code!r}.", code="unknown_discipline",
                           errors=[{"field": "discipline_override",
                                    "message": "one of " + ", ".join(DISCIPLINES)}])
    return value


def discipline_of(number: str, override: str | None = None) -> str | None:
    """The discipline code of a drawing: the override when given (it must be a known code),
    else the longest known prefix of the number's leading letters; None when none fits."""
    if override is not None:
        return normal_discipline(override)
    letters = re.match(r"[A-Z]*", number.strip().upper())
    prefix = letters.group(0) if letters else ""
    for length in range(len(prefix), 0, -1):
        if prefix[:length] in DISCIPLINES:
            return prefix[:length]
    return None


def discipline_name(code: str | None) -> str | None:
    return DISCIPLINES.get(code) if code else None


@dataclass(frozen=True, order=True)
class Revision:
    """An ISO 19650 revision code, ordered as revisions follow each other."""

    kind_rank: int  # 0 preliminary (and its work-in-progress versions), 1 contractual
    major: int
    minor_rank: int  # a WIP version (P01.02 -> 2) sorts before its revision (P01 -> 100)

    @property
    def kind(self) -> str:
        if self.kind_rank == 1:
            return "contractual"
        return "wip" if self.minor_rank < 100 else "preliminary"

    @property
    def code(self) -> str:
        letter = "C" if self.kind_rank == 1 else "P"
        base = f"{letter}{self.major:02d}"
        return base if self.minor_rank == 100 else f"{base}.{self.minor_rank:02d}"


def parse_revision(code: str) -> Revision:
    """`P01.01` (work in progress), `P01` (preliminary), `C01` (contractual); refused else."""
    match = _REVISION.match(code.strip().upper())
    if not match or int(match["major"]) == 0 or (match["minor"] and int(match["minor"]) == 0):
        raise InvalidInput(f"{code!r} is not an ISO 19650 revision code (P01.01, P01, C01).",
                           code="invalid_revision_code",
                           errors=[{"field": "revision", "message": "like P01.01, P01 or C01"}])
    if match["kind"] == "C" and match["minor"]:
        raise InvalidInput("A contractual revision has no work-in-progress version.",
                           code="invalid_revision_code",
                           errors=[{"field": "revision", "message": "C01, not C01.01"}])
    minor = int(match["minor"]) if match["minor"] else 100
    return Revision(1 if match["kind"] == "C" else 0, int(match["major"]), minor)


def revision_kind(code: str) -> str:
    return parse_revision(code).kind


def is_valid_status(status: str) -> bool:
    return bool(_STATUS.match(status.strip().upper()))


def status_kinds(status: str) -> tuple[str, ...]:
    """The revision kinds a status (suitability) code may accompany."""
    code = status.strip().upper()
    if code == "S0":
        return ("wip",)
    if code in ("S1", "S2", "S3", "S4"):
        return ("preliminary",)
    if code == "CR" or (code[:1] in ("A", "B") and _STATUS.match(code)):
        return ("contractual",)
    return ()


def check_codes(revision: str, status: str) -> tuple[str, str]:
    """The normalised (revision, status) pair, refused when either is malformed or the
    status does not fit the revision's kind (S0 with P01.01; S1-S4 with P01; A, B, CR with
    C01)."""
    parsed = parse_revision(revision)
    code = status.strip().upper()
    if not is_valid_status(code):
        raise InvalidInput(f"{status!r} is not a status code (S0-S4, A1.., B1.., CR).",
                           code="invalid_status_code",
                           errors=[{"field": "status", "message": "S0-S4, A1.., B1.. or CR"}])
    if parsed.kind not in status_kinds(code):
        raise InvalidInput(f"Status {code} does not fit a {parsed.kind} revision "
                           f"({parsed.code}).", code="status_revision_mismatch",
                           errors=[{"field": "status",
                                    "message": f"not for a {parsed.kind} revision"}])
    return parsed.code, code


def default_status(revision: str) -> str:
    """The status a new revision gets when none is given."""
    return {"wip": "S0", "preliminary": "S2", "contractual": "A1"}[parse_revision(revision).kind]


def check_next(existing: list[str], revision: str) -> None:
    """A new revision must come after every revision the drawing already has."""
    new = parse_revision(revision)
    if existing:
        latest = max(parse_revision(r) for r in existing)
        if new <= latest:
            raise InvalidInput(f"Revision {new.code} does not follow {latest.code}.",
                               code="revision_out_of_order",
                               errors=[{"field": "revision",
                                        "message": f"must come after {latest.code}"}])


def publishable(revision: str) -> bool:
    """Work-in-progress versions are never published: only P and C revisions."""
    return parse_revision(revision).kind != "wip"


# ---------------------------------------------------------------------------------------
# Guesses for bulk upload


@dataclass(frozen=True)
class Guess:
    number: str | None
    title: str | None
    revision: str | None
    discipline: str | None
    source: str  # "file_name", "text" or "none"


_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")
# A revision token: P01, P01.01, C02, optionally after "Rev"/"Rev." / "R".
_REV_TOKEN = re.compile(
    r"(?:^|[\s_\-\[\(])(?:rev(?:ision)?\.?[\s_\-]*)?(?P<rev>[PC]\d{2}(?:\.\d{2})?)"
    r"[\]\)]?(?=$|[\s_\-])", re.IGNORECASE)
# A drawing number at the start: letters, then a separator or not, then digits, and more.
_NUM_TOKEN = re.compile(
    r"^(?P<num>[A-Za-z]{1,3}[-_.]?\d{1,5}(?:[-.]\d{1,5})*[A-Za-z]?)(?=$|[\s_\-])")
# Anywhere in a text: a number with a dash or dot between letters and digits.
_NUM_IN_TEXT = re.compile(r"\b(?P<num>[A-Z]{1,3}-\d{2,5}(?:[-.]\d{1,5})*)\b")
_TEXT_REV = re.compile(r"\b(?:rev(?:ision)?\.?\s*:?\s*)?(?P<rev>[PC]\d{2}(?:\.\d{2})?)\b",
                       re.IGNORECASE)
_TITLE_LABEL = re.compile(r"^\s*(?:drawing\s+)?title\s*[:\-]\s*(?P<title>.+?)\s*$",
                          re.IGNORECASE | re.MULTILINE)


def _clean_title(text: str) -> str | None:
    title = re.sub(r"[\s_]+", " ", text).strip(" -_.")
    return title[:TITLE_MAX] or None


def _number(raw: str) -> str:
    return raw.upper().replace("_", "-")


def guess_from_file_name(file_name: str) -> Guess:
    """`A-101 Ground Floor Plan P02.pdf` -> A-101 / Ground Floor Plan / P02. Underscores are
    spaces, `Rev C01` and `_P02.pdf` are revisions, a missing title is None."""
    stem = _EXTENSION.sub("", file_name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    revision = None
    rev_matches = list(_REV_TOKEN.finditer(stem))
    if rev_matches:
        last = rev_matches[-1]
        revision = last["rev"].upper()
        stem = (stem[:last.start()] + " " + stem[last.end():]).strip()
    number = None
    num_match = _NUM_TOKEN.match(stem)
    if num_match:
        number = _number(num_match["num"])
        stem = stem[num_match.end():]
    if revision is not None:
        try:
            revision = parse_revision(revision).code
        except InvalidInput:
            revision = None
    title = _clean_title(stem)
    found = number is not None or revision is not None
    return Guess(number, title, revision, discipline_of(number) if number else None,
                 "file_name" if found else "none")


def guess_from_text(text: str) -> Guess:
    """The number, title and revision from a sheet's text layer (its title block): the first
    drawing-number-like token, a line labelled `Title:`, the last revision code."""
    number_match = _NUM_IN_TEXT.search(text.upper())
    number = number_match["num"] if number_match else None
    revisions = [m["rev"].upper() for m in _TEXT_REV.finditer(text)]
    revision = None
    for candidate in reversed(revisions):
        try:
            revision = parse_revision(candidate).code
            break
        except InvalidInput:
            continue
    title_match = _TITLE_LABEL.search(text)
    title = _clean_title(title_match["title"]) if title_match else None
    found = number is not None or revision is not None
    return Guess(number, title, revision, discipline_of(number) if number else None,
                 "text" if found else "none")


def merge_guesses(from_name: Guess, from_text: Guess | None) -> Guess:
    """The file name's guess, its gaps filled from the text layer's."""
    if from_text is None or from_text.source == "none":
        return from_name
    if from_name.source == "none":
        return from_text
    number = from_name.number or from_text.number
    return Guess(number, from_name.title or from_text.title,
                 from_name.revision or from_text.revision,
                 discipline_of(number) if number else None, "file_name")
