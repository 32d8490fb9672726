"""Build facts as the Dagger layer gathers them, filled by hand for the core's tests."""

import uuid
from datetime import UTC, datetime

from metrics_api.oci.release.job import VariantPlan
from metrics_api.oci.release.provenance import BaseImage, BuildFacts


class Facts:
    """Build facts per variant: a fresh invocation id and real times on every call."""

    def __init__(self) -> None:
        self.base = "sha256:" + "1" * 64
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, plan: VariantPlan, image: str) -> BuildFacts:
        self.calls.append((str(plan.platform), image))
        now = datetime.now(UTC)
        return BuildFacts(
            platform=str(plan.platform),
            folder=plan.directory,
            dockerfile=plan.dockerfile,
            version="v3.0.0",
            revision="0" * 40,
            source_url="https://git.example.com/metrics-api",
            build_args={"VERSION": "v3.0.0"},
            engine_version="v0.21.11",
            module_version="0.1.0",
            source_digest="sha256:" + "2" * 64,
            base_images=[BaseImage(uri="golang:1.26-bookworm", digest=self.base)],
            started_on=now,
            finished_on=now,
            invocation_id=str(uuid.uuid4()),
        )
