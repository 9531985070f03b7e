"""Search: a text search configuration that folds accents, for highlighting snippets.

The stored `search_vector` columns already fold accents (`to_tsvector('simple',
f_unaccent(...))`), and unaccent maps Turkish ı/İ/ş/ğ/ç/ö/ü to ASCII, so matching needs no
change. `ts_headline` however parses the original text with the configuration it is
given: with `simple`, "Şişli" never matches the query lexeme `sisli` and nothing is
highlighted. `fpm_search` runs words through unaccent before `simple`, so snippets are
highlighted in the original, accented text.

Revision ID: 0010
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORD_TOKENS = "asciihword, asciiword, hword, hword_asciipart, hword_part, word"


def upgrade() -> None:
    op.execute("CREATE TEXT SEARCH CONFIGURATION fpm_search (COPY = pg_catalog.simple)")
    op.execute(f"ALTER TEXT SEARCH CONFIGURATION fpm_search ALTER MAPPING FOR {WORD_TOKENS} "
               "WITH public.unaccent, pg_catalog.simple")


def downgrade() -> None:
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS fpm_search")
