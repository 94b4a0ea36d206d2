"""Warnings of the Python host go through the core's logger, like the core's own: masked,
deduplicated, counted, and written to the configured sink (Python ``logging`` under the ``ferrule``
logger by default). A host never writes a warning through its own logging alone."""

import logging
from typing import Any, Optional

from . import _ferrule


def warn(event: str, message: str, *, error: Optional[BaseException] = None, **fields: Any) -> bool:
    """One warning ``event`` through the core's logger; whether it was written (a repeat within the
    dedup window is counted, not written)."""
    try:
        return bool(_ferrule.emit(event, level="warning", message=message, error=error, **fields))
    except Exception:  # the logger itself failed: the warning must still reach someone
        logging.getLogger("ferrule").warning("%s: %s", event, _ferrule.redact(message), exc_info=error)
        return True
