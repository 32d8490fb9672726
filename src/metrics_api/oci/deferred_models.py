"""Our pydantic models whose validators are not built yet.

Each builds them when first used (``defer_build``): built as their classes load, they
would all cost the command line's start-up (~10 ms before its first request, the first
one also loading pydantic's plugin machinery). A job builds the rest while it waits for
its first answers (``session.run_in_client``).
"""

from pydantic import BaseModel

OURS = "metrics_api."


def unbuilt_models() -> list[type[BaseModel]]:
    """Our loaded models not built yet, each after the models it derives from."""
    found: list[type[BaseModel]] = []
    seen: set[type[BaseModel]] = set()
    level = [BaseModel]
    while level:
        below = [sub for model in level for sub in model.__subclasses__() if sub not in seen]
        seen.update(below)
        found += [m for m in below if m.__module__.startswith(OURS) and not m.__pydantic_complete__]
        level = below
    return found
