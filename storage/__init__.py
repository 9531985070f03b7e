"""Where attachment bytes live: a local folder (`file://`) or an S3-compatible bucket."""

from storage.backend import Storage
from storage.settings import StorageSettings, open_storage

__all__ = ["Storage", "StorageSettings", "open_storage"]
