"""Uploaded files: the allowed types, sniffing a file's real type from its bytes, and
thumbnails rendered in a sandboxed child process."""
