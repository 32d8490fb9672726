"""The CI jobs docs/ci.md shows, run as their CI runs them, with a `dagger` that refuses.

GitHub Actions runs a step's `run:` with `bash -eo pipefail`; GitLab CI runs a job's
`script:` lines one after another in one shell that stops at the first failing line. A
refused `publish-variant` must fail its job, not hand an empty reference to the next one.
"""

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.dagger

ROOT = Path(__file__).resolve().parents[2]
CI_PAGE = ROOT / "docs" / "ci.md"
REFERENCE = "registry.example.com/metrics-api:v2.0.0-amd64@sha256:" + "a" * 64
REFUSAL = "Error: expected each tag to be absent or to hold what this release writes"
FAKE_DAGGER = f"""#!/bin/sh
# `dagger call publish-variant`, refused (a tag would move) or printing its reference.
if [ "$REFUSE" = 1 ]; then echo "{REFUSAL}" >&2; exit 1; fi
echo "{REFERENCE}"
"""


def _block(language: str, after: str) -> str:
    page = CI_PAGE.read_text()
    start = page.index(after)
    found: str = re.findall(rf"```{language}\n(.*?)```", page[start:], re.DOTALL)[0]
    return found


def gitlab_jobs() -> dict[str, list[str]]:
    """Each publishing job's `script:` lines from the GitLab pipeline."""
    jobs: dict[str, list[str]] = {}
    job = ""
    for line in _block("yaml", "## GitLab CI").splitlines():
        if re.match(r"^[\w-]+:$", line):
            job = line[:-1]
        elif line.startswith("    - ") and job.startswith("variant-"):
            jobs.setdefault(job, []).append(line.removeprefix("    - "))
    return jobs


def github_steps() -> dict[str, str]:
    """Each publishing job's `run:` script from the GitHub Actions workflow."""
    workflow = _block("yaml", "## GitHub Actions:")
    steps = {}
    for job, script in re.findall(
        r"^  (amd64|arm64):\n.*?run: \|\n((?:          [^\n]*\n)+)",
        workflow,
        re.MULTILINE | re.DOTALL,
    ):
        steps[job] = "\n".join(line.removeprefix("          ") for line in script.splitlines())
    return steps


def run_job(script: str, tmp_path: Path, *, refuse: bool) -> subprocess.CompletedProcess[str]:
    """``script`` under ``bash -eo pipefail`` in ``tmp_path``, the fake dagger first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "dagger"
    fake.write_text(FAKE_DAGGER)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "REFUSE": "1" if refuse else "0",
        "CI_REGISTRY": "registry.example.com",
        "CI_REGISTRY_USER": "ci",
        "GITHUB_OUTPUT": str(tmp_path / "github-output"),
        "GITHUB_SHA": "0" * 40,
    }
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_pages_show_both_publishing_jobs_of_each_ci() -> None:
    assert sorted(gitlab_jobs()) == ["variant-amd64", "variant-arm64"]
    assert sorted(github_steps()) == ["amd64", "arm64"]


@pytest.mark.parametrize("job", ["variant-amd64", "variant-arm64"])
def test_a_refused_publish_variant_fails_the_gitlab_job(job: str, tmp_path: Path) -> None:
    script = "\n".join(gitlab_jobs()[job])
    env_file = tmp_path / f"{job.removeprefix('variant-')}.env"
    refused = run_job(script, tmp_path, refuse=True)
    assert refused.returncode == 1
    assert REFUSAL in refused.stderr
    assert not env_file.exists()  # no dotenv with an empty reference reaches the next job

    published = run_job(script, tmp_path, refuse=False)
    assert published.returncode == 0, published.stderr
    name = job.removeprefix("variant-").upper()
    assert env_file.read_text() == f"{name}={REFERENCE}\n"


@pytest.mark.parametrize("job", ["amd64", "arm64"])
def test_a_refused_publish_variant_fails_the_github_step(job: str, tmp_path: Path) -> None:
    script = github_steps()[job]
    output = tmp_path / "github-output"
    refused = run_job(script, tmp_path, refuse=True)
    assert refused.returncode == 1
    assert not output.exists()

    published = run_job(script, tmp_path, refuse=False)
    assert published.returncode == 0, published.stderr
    assert output.read_text() == f"ref={REFERENCE}\n"
