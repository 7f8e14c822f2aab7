"""What the daemon does for each client message: one handler per message class, grouped by
concern (jobs, blobs, admin) and chosen from one table. A handler receives the calling
connection (its client, its scope, its `deliver`) and the typed message, and returns the reply
(the connection stamps the reply id) or None when it has sent its answer itself."""

from __future__ import annotations

from .admin import HANDLERS as _ADMIN
from .base import Caller, Handler
from .blobs import HANDLERS as _BLOBS
from .blobs import receive_chunk
from .jobs import HANDLERS as _JOBS

HANDLERS: dict[type, Handler] = {**_JOBS, **_BLOBS, **_ADMIN}

__all__ = ["HANDLERS", "Caller", "Handler", "receive_chunk"]
