"""The registry inside the pipeline: where every variant is staged before the target."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import dagger
from dagger import dag

from metrics_api.oci.release.job import Staging

IMAGE = "registry:3"
# The engine pushes to `localhost:5000`: it aliases `localhost` to the service and talks
# plain HTTP to it, as to any loopback host. This process reaches it by its endpoint.
PUSH_HOST = "localhost:5000"
# Every variant is built, then pushed here: its digest is then known before the target is
# touched, and the core copies those exact bytes.
REPOSITORY = "staging/metrics-api"


@dataclass(frozen=True)
class EmbeddedRegistry:
    """A running registry service of this call, and the host:port the core reaches it by."""

    service: dagger.Service
    host: str

    @property
    def staging(self) -> Staging:
        """It as the core's staging area."""
        return Staging(push_host=PUSH_HOST, host=self.host, repository=REPOSITORY)


@asynccontextmanager
async def embedded_registry() -> AsyncIterator[EmbeddedRegistry]:
    """A registry inside the pipeline for this call, stopped when the call ends."""
    registry = (
        dag.container()
        .from_(IMAGE)
        # Quiet: its access log and the errors it logs for every blob a push checks would
        # be most of a release's output (distribution's configuration, `log`); a fixed
        # secret spares the warning about a random one.
        .with_env_variable("REGISTRY_LOG_LEVEL", "fatal")
        .with_env_variable("REGISTRY_LOG_ACCESSLOG_DISABLED", "true")
        .with_env_variable("REGISTRY_HTTP_SECRET", "embedded-registry-of-one-call")
        .with_exposed_port(5000)
    )
    service = await registry.as_service().start()
    try:
        yield EmbeddedRegistry(service, await service.endpoint(port=5000))
    finally:
        await service.stop()
