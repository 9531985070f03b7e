"""What the storage layer refuses or cannot find; each maps to one HTTP answer in the routes."""

from __future__ import annotations


class StorageError(Exception):
    """Storage refused or failed an operation."""


class BadKey(StorageError, ValueError):
    """Not an object key of this application (see storage.keys): never touched."""


class NotStored(StorageError):
    """No object under that key (404)."""


class UploadNotFound(StorageError):
    """No such unfinished multipart upload: aborted, swept or never started (404)."""


class UploadBusy(StorageError):
    """Another request is writing the same upload right now (409)."""


class OffsetMismatch(StorageError):
    """A chunk starts past the bytes received so far (409, or 416 for a Range-style API);
    `received` is where the client must resume."""

    def __init__(self, offset: int, received: int) -> None:
        super().__init__(f"chunk starts at byte {offset}, but {received} bytes are stored")
        self.offset = offset
        self.received = received


class SizeExceeded(StorageError):
    """The body goes past the declared size (413); nothing past the chunk's start is kept."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the body is larger than the declared {size} bytes")
        self.size = size


class IncompleteUpload(StorageError):
    """Completion asked before every byte arrived, or the stored size differs (409)."""

    def __init__(self, message: str, received: int) -> None:
        super().__init__(message)
        self.received = received
