"""How a job reaches registries: its settings, and a client made from them within a deadline.

Every job of both front ends opens its client here, so credentials, trust, retries and the
job's overall deadline are configured in one place.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import anyio
from pydantic import BaseModel

from metrics_api.oci.concurrency import beside
from metrics_api.oci.defaults import DEADLINE, REQUEST_TIMEOUT
from metrics_api.oci.deferred_models import unbuilt_models
from metrics_api.oci.errors import OciError, Remedy
from metrics_api.oci.registry.auth import Credentials, CredentialStore, docker_config_path
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.early import EarlyConnections
from metrics_api.oci.registry.idle import IdleWatch
from metrics_api.oci.registry.pools import ConnectionPools
from metrics_api.oci.registry.proxies import Proxies
from metrics_api.oci.registry.retry import ClientStats, RetryPolicy
from metrics_api.oci.registry.trust import trust_context

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """How to reach registries; the same for every job."""

    insecure_registries: frozenset[str] = frozenset()
    credentials: Mapping[str, Credentials] = field(default_factory=dict)
    use_docker_config: bool = True
    request_timeout: float = REQUEST_TIMEOUT
    deadline: float = DEADLINE  # the whole job, retries included
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    ca_certificates: str = ""  # PEM, trusted besides the system's trust store
    proxies: Proxies = field(default_factory=Proxies)  # none: every registry directly
    early_connections: EarlyConnections | None = None  # opened by the command line


@asynccontextmanager
async def open_client(
    settings: Settings, stats: ClientStats | None = None, watch: IdleWatch | None = None
) -> AsyncIterator[RegistryClient]:
    """A client configured from ``settings``, inside the job's overall deadline.

    ``stats``: where the client counts its requests, for a caller that reports them even
    when the job fails. ``watch``: follows the client's requests (see ``idle``).
    """
    store = CredentialStore.from_sources(
        settings.credentials, docker_config_path() if settings.use_docker_config else None
    )
    client = RegistryClient(
        credentials=store,
        insecure_registries=settings.insecure_registries,
        retry=settings.retry,
        timeout=settings.request_timeout,
        stats=stats,
        transport=ConnectionPools(
            partial(trust_context, settings.ca_certificates),
            settings.proxies,
            settings.early_connections,
            watch,
        ),
    )
    try:
        with anyio.fail_after(settings.deadline):
            async with client:
                yield client
    except TimeoutError:
        waiting = client.transport.in_flight
        raise OciError(
            f"the job did not finish within its {settings.deadline:g} s deadline "
            f"({client.stats.requests} requests, {client.stats.retries} retries"
            + (f"; no answer yet to {', '.join(waiting)}" if waiting else "")
            + "); the registry is too slow or unresponsive",
            remedy=Remedy.DEADLINE,
        ) from None


async def build_when_idle(watch: IdleWatch, models: Sequence[type[BaseModel]]) -> None:
    """Build each of ``models`` at a moment its job is idle (``watch``), one at a time."""
    for model in models:
        await watch.idle()
        model.model_rebuild(raise_errors=False)  # one that cannot be yet: on first use


async def run_in_client(
    settings: Settings,
    stats: ClientStats | None,
    job: Callable[[RegistryClient], Awaitable[T]],
) -> T:
    """``job`` on a client from ``settings`` (as ``open_client``), its models built meanwhile.

    The models not built yet (``deferred_models``) are built while its requests only
    await their answers: the first round trip's wait has room for all of them.
    """
    watch = IdleWatch()
    async with open_client(settings, stats, watch) as client:
        return await beside(partial(job, client), partial(build_when_idle, watch, unbuilt_models()))
