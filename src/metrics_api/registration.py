"""How the module's functions are registered with the engine, beyond ``@function``."""

from collections.abc import Callable
from typing import Any, TypeVar, cast

from dagger import function

F = TypeVar("F", bound=Callable[..., Any])


def uncached(fn: F) -> F:
    """Register a function that reads or writes a registry: its result must never be cached."""
    # dagger-io's typed overloads of `function` leave out `cache`, which it does accept.
    return cast("F", cast("Any", function)(cache="never")(fn))
