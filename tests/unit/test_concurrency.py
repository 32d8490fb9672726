"""Work run beside a job: never waited for, and never in the way of the job's own failure."""

import anyio
import anyio.lowlevel
import pytest

from metrics_api.oci.concurrency import beside


def test_work_beside_a_job_is_cancelled_when_the_job_ends() -> None:
    never = anyio.Event()
    cancelled: list[bool] = []

    async def aside() -> None:
        try:
            await never.wait()
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise

    async def job() -> str:
        await anyio.lowlevel.checkpoint()
        return "done"

    async def run() -> str:
        return await beside(job, aside)

    assert anyio.run(run) == "done"
    assert cancelled == [True]


def test_a_job_that_fails_beside_its_work_fails_as_itself() -> None:
    async def aside() -> None:
        await anyio.Event().wait()

    async def job() -> str:
        await anyio.lowlevel.checkpoint()
        raise LookupError("the job's own failure")

    async def run() -> str:
        return await beside(job, aside)

    with pytest.raises(LookupError, match="the job's own failure"):
        anyio.run(run)
