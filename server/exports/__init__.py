"""Every list as a file: `?format=csv|xlsx` (or `Accept: text/csv`) on a list route returns
the whole result, streamed, audited, with what the caller may read of it (`exportable`)."""
