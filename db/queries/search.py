"""Firm-wide search: full-text and trigram hits ranked in one list, then read under RLS.

Why two steps. Row-level security keeps the planner from using an index for any operator
that is not LEAKPROOF, and neither `@@` nor pg_trgm's `<%` is: under `formula_pm_app`
every search would scan every table. So the ranking step runs as `formula_pm_system`
(inside the caller's read-only transaction, `SET LOCAL ROLE`), where the GIN indexes
apply, and filters explicitly by the same visibility functions the RLS policies use
(`app_org_id()`, `app_is_org_admin()`, `app_visible_project_ids()`,
`app_user_client_id()`). It returns only ids and scores. The page is then read back as
`formula_pm_app`, by primary key, under RLS: a row the user may not open cannot appear
even if the first step were wrong.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import asyncpg

from db.audience import SHARED
from db.queries.spelling import correctable, neighbours, widened_tsquery

MARK_START, MARK_END = "\ue000", "\ue001"  # private-use sentinels, turned into <mark> later
HEADLINE = (f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=30, MinWords=12, "
            "MaxFragments=2, FragmentDelimiter=\" … \"")
FUZZY_MIN_CHARS, FUZZY_MAX_CHARS = 3, 64  # trigram matching for short queries only
FUZZY_CAP = 200  # fuzzy-only hits scored per type
SNIPPET_SOURCE_CHARS = 5000


@dataclass(frozen=True)
class Kind:
    """One searchable resource: where it lives and how it is matched, ranked and shown."""

    table: str
    project: str | None  # the column naming the project ("id" for projects)
    trgm: str | None  # exactly the expression of the table's trigram index
    keys: tuple[str, ...]  # fields whose exact or prefix match is a strong signal
    title: str
    body: str


def _joined(*cols: str) -> str:
    return f"concat_ws(' · ', {', '.join('x.' + c for c in cols)})"


KINDS: dict[str, Kind] = {
    "project": Kind("projects", "id", "f_unaccent(x.name)", ("name",), "x.name",
                    _joined("name", "location", "description")),
    "client": Kind("clients", None, "f_unaccent(x.name)", ("name", "company_name"), "x.name",
                   _joined("name", "company_name", "contact_person", "industry", "city")),
    "task": Kind("tasks", "project_id", "f_unaccent(x.name)", ("name",), "x.name",
                 _joined("name", "category", "description")),
    "scope_item": Kind("scope_items", "project_id",
                       "f_unaccent(coalesce(x.code, '') || ' ' || x.name)", ("code", "name"),
                       "concat_ws(' ', x.code, x.name)",
                       _joined("code", "name", "category", "description")),
    "shop_drawing": Kind("shop_drawings", "project_id",
                         "f_unaccent(x.drawing_number || ' ' || x.title)",
                         ("drawing_number", "title"), "x.drawing_number || ' ' || x.title",
                         _joined("drawing_number", "title", "room", "drawing_type")),
    "material_spec": Kind("material_specs", "project_id",
                          "f_unaccent(coalesce(x.code, '') || ' ' || x.description || ' ' || "
                          "coalesce(x.supplier_name, '') || ' ' || coalesce(x.manufacturer, ''))",
                          ("code", "description", "supplier_name", "manufacturer"),
                          "concat_ws(' ', x.code, x.description)",
                          _joined("code", "description", "material", "manufacturer",
                                  "supplier_name", "category", "finish")),
    "comment": Kind("comments", "project_id", None, (), "left(x.body, 120)", "x.body"),
}
TYPES = tuple(KINDS)


@dataclass(frozen=True)
class Scope:
    """What the acting user may see, read from the visibility functions once per search."""

    org_id: uuid.UUID
    user_id: uuid.UUID
    is_admin: bool
    client_id: uuid.UUID | None
    projects: frozenset[uuid.UUID]


@dataclass(frozen=True)
class SearchQuery:
    q: str
    types: tuple[str, ...] = TYPES
    project_id: uuid.UUID | None = None
    limit: int = 20
    after: tuple[Decimal, str, uuid.UUID] | None = None  # (score, type, id) of the last hit
    widened: str | None = None  # tsquery text of the query's words and their one-edit typos


@dataclass
class _Params:
    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


async def visible_scope(conn: asyncpg.Connection) -> Scope | None:
    """The actor's scope, or None when the actor is not an active user of an org."""
    row = await conn.fetchrow(
        "SELECT app_org_id() AS org_id, app_user_id() AS user_id, app_is_org_admin() AS admin, "
        "app_user_client_id() AS client_id, app_visible_project_ids() AS projects, "
        "EXISTS (SELECT 1 FROM users WHERE id = app_user_id() AND status = 'active') AS active")
    if row is None or not row["active"] or row["org_id"] is None:
        return None
    return Scope(row["org_id"], row["user_id"], row["admin"], row["client_id"],
                 frozenset(row["projects"]))


def fuzzy_enabled(q: str) -> bool:
    """Trigram matching only pays for short queries with some letters or digits."""
    return FUZZY_MIN_CHARS <= sum(c.isalnum() for c in q) and len(q) <= FUZZY_MAX_CHARS


class _Shared:
    """Placeholders of the values several branches use: each bound once, on first use
    (PostgreSQL refuses a parameter that no clause mentions)."""

    def __init__(self, p: _Params, scope: Scope, query: SearchQuery) -> None:
        self._p = p
        self._values: dict[str, Any] = {
            "org": scope.org_id, "user": scope.user_id, "projects": sorted(scope.projects),
            "client": scope.client_id, "project": query.project_id, "widened": query.widened}
        self._bound: dict[str, str] = {}
        self.q = p.add(query.q)

    def ref(self, name: str) -> str:
        if name not in self._bound:
            self._bound[name] = self._p.add(self._values[name])
        return self._bound[name]


def _visibility(kind: Kind, v: _Shared, scope: Scope, project_id: uuid.UUID | None) -> str:
    """The same rules as the RLS policies, spelled out so that the GIN indexes can be used."""
    conds = [f"x.org_id = {v.ref('org')}"]
    if kind.project is None:  # clients: a client user sees only its own client
        if scope.client_id is not None:
            conds.append(f"x.id = {v.ref('client')}")
        return " AND ".join(conds)
    if not scope.is_admin:
        visible = f"x.{kind.project} = ANY({v.ref('projects')}::uuid[])"
        if kind.table == "projects":
            visible = f"({visible} OR x.created_by = {v.ref('user')})"
        conds.append(visible)
    if project_id is not None:
        conds.append(f"x.{kind.project} = {v.ref('project')}")
    if kind.table == "comments" and scope.client_id is not None:
        conds.append(f"x.visibility = '{SHARED}'")  # as the comments policy (0015)
    return " AND ".join(conds)


def _tsquery(v: _Shared) -> str:
    return f"websearch_to_tsquery('simple', f_unaccent({v.q}))"


def _fts_match(v: _Shared) -> str:
    # querytree() is '' for a query without lexemes and 'T' for a pure negation ("-foo"):
    # neither can use the index, so the full-text part drops out (folded at plan time).
    return f"(querytree({_tsquery(v)}) NOT IN ('', 'T') AND x.search_vector @@ {_tsquery(v)})"


def _exact(kind: Kind, v: _Shared) -> str:
    """1 when a key field equals the query, accents and case folded. unaccent is the
    costly part, so it runs only on values of the query's length (folding ı, ş, ğ... keeps
    the length; the rare letters that unaccent expands, like ß, miss the bonus)."""
    if not kind.keys:
        return "0"
    cases = ", ".join(
        f"CASE WHEN char_length(x.{k}) = char_length({v.q}) AND "
        f"lower(f_unaccent(x.{k})) = lower(f_unaccent({v.q})) THEN 1 ELSE 0 END"
        for k in kind.keys)
    return f"GREATEST({cases})"


def _fts_branch(name: str, v: _Shared, scope: Scope, query: SearchQuery) -> str:
    """Whole-word hits, scored 1 + ts_rank (name/code weight A beats description C) + 1 for
    an exact name or code: every one of them outranks a fuzzy-only hit."""
    kind = KINDS[name]
    project = f"x.{kind.project}" if kind.project else "NULL::uuid"
    score = f"1 + ts_rank(x.search_vector, {_tsquery(v)}) + {_exact(kind, v)}"
    return (f"SELECT '{name}'::text AS type, x.id, {project} AS project_id, "  # noqa: S608 - KINDS
            f"round(({score})::numeric, 6) AS score FROM {kind.table} x "
            f"WHERE {_visibility(kind, v, scope, query.project_id)} AND {_fts_match(v)}")


def _spelled(v: _Shared) -> str:
    return f"to_tsquery('simple', {v.ref('widened')})"


def _fuzzy_match(kind: Kind, v: _Shared, query: SearchQuery) -> tuple[list[str], list[str]]:
    """(conditions, similarities) of the fuzzy tier for one kind: trigram similarity of the
    key fields, and whole words of any searchable field within one edit of the query's."""
    conds, sims = [], []
    if kind.trgm is not None and fuzzy_enabled(query.q):
        term = f"f_unaccent({v.q})"
        conds.append(f"{term} <% {kind.trgm}")
        sims.append(f"word_similarity({term}, {kind.trgm})")
    if query.widened is not None:
        spelled = _spelled(v)
        conds.append(f"x.search_vector @@ {spelled}")
        # 0.6-1.0, like a trigram hit over the 0.6 threshold; ts_rank(…, 32) is in [0, 1)
        sims.append(f"CASE WHEN x.search_vector @@ {spelled} "
                    f"THEN 0.6 + 0.4 * ts_rank(x.search_vector, {spelled}, 32) ELSE 0 END")
    return conds, sims


def _fuzzy_branch(name: str, v: _Shared, scope: Scope, query: SearchQuery) -> str:
    """Near hits (typos, swapped letters, partial codes), scored below 1: trigram word
    similarity of names and codes, or every word of the query within one edit of a word of
    any searchable field. At most FUZZY_CAP of them per type are scored, which bounds the
    cost of a vague query."""
    kind = KINDS[name]
    conds, sims = _fuzzy_match(kind, v, query)
    project = f"x.{kind.project}" if kind.project else "NULL::uuid"
    return (f"SELECT '{name}'::text AS type, f.id, f.project_id, "  # noqa: S608 - KINDS
            f"round((0.9 * f.sim)::numeric, 6) AS score FROM (SELECT x.id, "
            f"{project} AS project_id, GREATEST({', '.join(sims)}) AS sim "
            f"FROM {kind.table} x WHERE {_visibility(kind, v, scope, query.project_id)} "
            f"AND ({' OR '.join(conds)}) AND NOT {_fts_match(v)} LIMIT {FUZZY_CAP}) f")


EMPTY = ("SELECT NULL::text AS type, NULL::uuid AS id, NULL::uuid AS project_id, "
         "NULL::numeric AS score WHERE false")


def ranking_sql(scope: Scope, query: SearchQuery, tier: str = "fts") -> tuple[str, list[Any]]:
    """One tier's ranking statement ("fts" or "fuzzy"): limit+1 hits after the cursor."""
    names = [n for n in query.types if not (query.project_id and KINDS[n].project is None)]
    if tier == "fuzzy":
        trigram = fuzzy_enabled(query.q)
        names = [n for n in names if query.widened is not None or (trigram and KINDS[n].trgm)]
    if not names:
        return EMPTY, []
    p = _Params()
    v = _Shared(p, scope, query)
    branch = _fuzzy_branch if tier == "fuzzy" else _fts_branch
    union = "\nUNION ALL\n".join(branch(n, v, scope, query) for n in names)
    after = "TRUE"
    if query.after is not None:
        s, t, i = (p.add(value) for value in query.after)
        after = f"(h.score, h.type, h.id) < ({s}::numeric, {t}::text, {i}::uuid)"
    limit = p.add(query.limit + 1)
    # The branches name the tables and columns of KINDS; every value is a parameter.
    sql = (f"SELECT h.type, h.id, h.project_id, h.score FROM (\n{union}\n) h "  # noqa: S608
           f"WHERE {after} ORDER BY h.score DESC, h.type DESC, h.id DESC LIMIT {limit}")
    return sql, p.values


async def _as_ranker(conn: asyncpg.Connection, q: str) -> str:
    """Switch to the ranking role and settings; the query folded as the search vectors are
    (f_unaccent is in the database, so it rides along with the settings)."""
    folded: str | None = await conn.fetchval(
        "SELECT lower(f_unaccent($1)) FROM (SELECT set_config('role', 'formula_pm_system', "
        "true), set_config('plan_cache_mode', 'force_custom_plan', true), "
        "set_config('max_parallel_workers_per_gather', '0', true)) s", q)
    return folded or ""


async def _widened(conn: asyncpg.Connection, scope: Scope, query: SearchQuery,
                   folded: str) -> SearchQuery:
    """The query with its misspellings widened to the org's words one edit away (one more
    round trip, only when a word can be misspelled)."""
    candidates = neighbours(correctable(folded))
    if not candidates:
        return query
    known = await conn.fetchval(
        "SELECT coalesce(array_agg(DISTINCT word), '{}') FROM search_words "
        "WHERE org_id = $1 AND word = ANY($2::text[])", scope.org_id, candidates)
    return replace(query, widened=widened_tsquery(folded, set(known)))


async def as_ranker(conn: asyncpg.Connection, scope: Scope,
                    query: SearchQuery) -> SearchQuery:
    """Ranking role and settings, and the query as the fuzzy tier runs it (benchmarks)."""
    return await _widened(conn, scope, query, await _as_ranker(conn, query.q))


async def rank(conn: asyncpg.Connection, scope: Scope,
               query: SearchQuery) -> tuple[list[asyncpg.Record], SearchQuery]:
    """Ids and scores of the best limit+1 hits, found through the indexes (see the module
    note), and the query as ranked. Whole-word hits score >= 1 and fuzzy-only hits < 1, so
    the fuzzy tier (and the look-up of misspellings) runs only when the whole-word tier
    cannot fill the page."""
    folded = await _as_ranker(conn, query.q)
    rows: list[asyncpg.Record] = []
    in_fuzzy_tier = query.after is not None and query.after[0] < 1
    if not in_fuzzy_tier:
        rows = await conn.fetch(*_flat(ranking_sql(scope, query, "fts")))
    if len(rows) <= query.limit:
        query = await _widened(conn, scope, query, folded)
        rest = replace(query, limit=query.limit - len(rows),
                       after=query.after if in_fuzzy_tier else None)
        rows += await conn.fetch(*_flat(ranking_sql(scope, rest, "fuzzy")))
    # On an error the transaction is aborted and SET LOCAL undone, so no `finally` is needed.
    await conn.execute("SELECT set_config('role', 'formula_pm_app', true)")
    return rows, query


def _flat(statement: tuple[str, list[Any]]) -> list[Any]:
    return [statement[0], *statement[1]]


def _highlighted(p: _Params, query: SearchQuery, hits: Sequence[asyncpg.Record]) -> str:
    """The tsquery whose words the snippets mark: with the misspellings' neighbours when a
    near hit is on the page."""
    words = f"websearch_to_tsquery('simple', f_unaccent({p.add(query.q)}))"
    if query.widened is None or all(h["score"] >= 1 for h in hits):
        return words
    return f"({words} || to_tsquery('simple', {p.add(query.widened)}))"


async def hydrate(conn: asyncpg.Connection, query: SearchQuery,
                  hits: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    """Titles and highlighted snippets of one page of hits, read under RLS (as the actor)."""
    if not hits:
        return []
    p = _Params()
    tsquery, opts = _highlighted(p, query, hits), p.add(HEADLINE)
    parts = []
    for name in sorted({h["type"] for h in hits}):
        kind = KINDS[name]
        ids = p.add([h["id"] for h in hits if h["type"] == name])
        parts.append(
            f"SELECT '{name}'::text AS type, x.id, {kind.title} AS title, "  # noqa: S608 - KINDS
            f"ts_headline('fpm_search', left({kind.body}, {SNIPPET_SOURCE_CHARS}), "
            f"{tsquery}, {opts}) AS snippet "
            f"FROM {kind.table} x WHERE x.id = ANY({ids}::uuid[])")
    rows = await conn.fetch("\nUNION ALL\n".join(parts), *p.values)
    shown = {(r["type"], r["id"]): r for r in rows}
    out = []
    for hit in hits:
        row = shown.get((hit["type"], hit["id"]))
        if row is not None:  # RLS hid it: never shown
            out.append({"type": hit["type"], "id": hit["id"], "title": row["title"],
                        "snippet": row["snippet"], "project_id": hit["project_id"],
                        "score": hit["score"]})
    return out


async def search(conn: asyncpg.Connection, scope: Scope,
                 query: SearchQuery) -> tuple[list[dict[str, Any]], bool]:
    """One page of hits (best first) and whether more follow. Call inside
    `transaction(pool, actor)`; the route and the benchmark both use this."""
    hits, query = await rank(conn, scope, query)
    more = len(hits) > query.limit
    return await hydrate(conn, query, hits[: query.limit]), more
