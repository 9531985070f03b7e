"""Import of the first system's JSON export: read and validate, map, plan, write once."""

from server.legacy.read import FILES, LegacyFormatError, read_export
from server.legacy.run import ImportAborted, import_legacy

__all__ = ["FILES", "ImportAborted", "LegacyFormatError", "import_legacy", "read_export"]
