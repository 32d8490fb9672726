"""Times as OCI annotations and image configurations write them: RFC 3339, UTC, seconds."""

import time


def rfc3339(seconds: float) -> str:
    """Seconds since 1970 as ``YYYY-MM-DDTHH:MM:SSZ`` (the fraction dropped)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
