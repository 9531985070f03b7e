"""Import of the first system's JSON export: read and validate, map, plan, write once."""

from importer.read import FILES, LegacyFormatError, read_export
from importer.run import ImportAborted, import_legacy

__all__ = ["FILES", "ImportAborted", "LegacyFormatError", "import_legacy", "read_export"]
