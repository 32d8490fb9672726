"""The registry inside the pipeline: where every variant is staged before the target."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import dagger
from dagger import dag

from metrics_api.oci.release.job import Staging
from metrics_api.pipeline_errors import PipelineError

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


# Quiet: its access log and its info lines would be most of a release's output
# (distribution's configuration, `log`; `error` is its quietest level); a fixed secret
# spares the warning about a random one.
QUIET = {
    "REGISTRY_LOG_LEVEL": "error",
    "REGISTRY_LOG_ACCESSLOG_DISABLED": "true",
    "REGISTRY_HTTP_SECRET": "embedded-registry-of-one-call",
}


@asynccontextmanager
async def embedded_registry() -> AsyncIterator[EmbeddedRegistry]:
    """A registry inside the pipeline for this call, stopped when the call ends."""
    registry = dag.container().from_(IMAGE)
    for name, value in QUIET.items():
        registry = registry.with_env_variable(name, value)
    service = await start(registry.with_exposed_port(5000))
    try:
        yield EmbeddedRegistry(service, await service.endpoint(port=5000))
    finally:
        await service.stop()


async def start(registry: dagger.Container) -> dagger.Service:
    """Start the registry's service; a failure (the image cannot be pulled) is one line."""
    try:
        return await registry.as_service().start()
    except dagger.QueryError as error:
        msg = (
            f"starting the pipeline's own registry ({IMAGE}) failed: {error}; the engine "
            f"must be able to pull {IMAGE} (from Docker Hub, or the mirror it is configured "
            "with)"
        )
        raise PipelineError(msg) from error
