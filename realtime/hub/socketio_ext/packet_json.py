"""The JSON module Engine.IO and Socket.IO decode client packets with: depth-bounded.

The libraries parse every packet with `json.loads`, which raises RecursionError on a payload
nested a few thousand levels deep (a packet of a few kilobytes). Engine.IO does not expect
that error: it escaped the websocket handler, wrote an HTTP 500 onto the open websocket and
broke the connection. Here such a payload is refused with a ValueError before it is parsed,
which both libraries treat as a malformed packet. No client event needs more than a few
levels.
"""

from __future__ import annotations

import json
from typing import Any

from engineio import json as engineio_json

from db.json_depth import TooDeep, too_deep

MAX_PACKET_DEPTH = 32


def loads(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
    raw = text.decode(json.detect_encoding(text), "surrogatepass") if isinstance(
        text, bytes | bytearray) else text
    found = too_deep(raw, MAX_PACKET_DEPTH)
    if found is not None:
        raise TooDeep(MAX_PACKET_DEPTH, found.key)
    return engineio_json.loads(raw, *args, **kwargs)  # with its bound on integer size


dumps = json.dumps
