"""Smoke tests for tests/support: each helper against the real tools it wraps."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

import httpx
import pytest
from support.bases import (
    GO_IMAGE,
    PYTHON_IMAGE,
    RUNTIME_IMAGE,
    BaseImages,
    build_app_image,
    run_container,
)
from support.docker29 import (
    ATTESTATION_REF_TYPE,
    OCI_INDEX,
    RegistryHTTPError,
    descriptor,
    get_manifest,
    json_bytes,
    manifest_digest,
    push_blob,
    put_manifest,
    tag_digest,
    wrap_docker29,
)
from support.images import (
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    build_tiny_image,
    push,
    sha256_digest,
    skopeo_config,
    skopeo_inspect_platform,
    skopeo_raw,
)
from support.proc import ToolMissingError
from support.registry import Registry, start_registry

if TYPE_CHECKING:
    from pathlib import Path

    from support.containers import ContainersEnv


@pytest.mark.integration
def test_registry_stops_restarts_and_keeps_content() -> None:
    with start_registry() as reg:
        assert httpx.get(f"{reg.url}/v2/", timeout=5).status_code == 200
        digest = push_blob(reg.host, "smoke/blob", b"kept across restarts")
        reg.stop()
        assert not reg.running
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{reg.url}/v2/", timeout=2)
        reg.start()
        head = httpx.head(f"{reg.url}/v2/smoke/blob/blobs/{digest}", timeout=5)
        assert head.status_code == 200
    assert not reg.data_dir.exists()


@pytest.mark.integration
def test_missing_registry_binary_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissingError, match="docker-registry"):
        start_registry()


@pytest.mark.integration
def test_tiny_images_push_with_their_platforms(
    containers: ContainersEnv, registry: Registry
) -> None:
    amd64 = build_tiny_image(containers, "smoke-tiny-amd64", "amd64")
    arm64 = build_tiny_image(containers, "smoke-tiny-arm64", "arm64", variant="v8")
    amd64_ref = registry.ref("smoke/tiny", "amd64")
    arm64_ref = registry.ref("smoke/tiny", "arm64")
    docker_ref = registry.ref("smoke/tiny", "amd64-docker")

    amd64_digest = push(containers, amd64, amd64_ref)
    arm64_digest = push(containers, arm64, arm64_ref)
    docker_digest = push(containers, amd64, docker_ref, format="docker")

    assert len({amd64_digest, arm64_digest, docker_digest}) == 3
    assert sha256_digest(skopeo_raw(amd64_ref)) == amd64_digest
    assert json.loads(skopeo_raw(arm64_ref))["mediaType"] == OCI_MANIFEST
    assert json.loads(skopeo_raw(docker_ref))["mediaType"] == DOCKER_MANIFEST
    arm64_config = skopeo_config(arm64_ref)
    assert (arm64_config["os"], arm64_config["architecture"], arm64_config["variant"]) == (
        "linux",
        "arm64",
        "v8",
    )
    assert skopeo_config(amd64_ref)["architecture"] == "amd64"
    assert tag_digest(registry.host, "smoke/tiny", "arm64") == arm64_digest


@pytest.mark.integration
def test_docker29_wrap_resolves_like_a_client(
    containers: ContainersEnv, registry: Registry
) -> None:
    image = build_tiny_image(containers, "smoke-d29-amd64", "amd64")
    flat = push(containers, image, registry.ref("smoke/d29", "flat-amd64"))

    pushed = wrap_docker29(registry.host, "smoke/d29", flat, "v2.0.0-amd64")

    assert pushed.image_digest == flat
    raw = skopeo_raw(registry.ref("smoke/d29", "v2.0.0-amd64"))
    assert sha256_digest(raw) == pushed.index_digest
    index = json.loads(raw)
    assert index["mediaType"] == OCI_INDEX
    image_entry, att_entry = index["manifests"]
    assert image_entry["digest"] == flat
    assert image_entry["platform"] == {"architecture": "amd64", "os": "linux"}
    assert att_entry["digest"] == pushed.attestation_digest
    assert att_entry["platform"] == {"architecture": "unknown", "os": "unknown"}
    assert att_entry["annotations"] == {
        "vnd.docker.reference.digest": flat,
        "vnd.docker.reference.type": ATTESTATION_REF_TYPE,
    }
    attestation = get_manifest(registry.host, "smoke/d29", pushed.attestation_digest).json()
    assert attestation["layers"][0]["mediaType"] == "application/vnd.in-toto+json"
    assert attestation["layers"][0]["annotations"] == {
        "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"
    }

    resolved = skopeo_inspect_platform(registry.ref("smoke/d29", "v2.0.0-amd64"), "linux", "amd64")
    assert resolved["ResolvedDigest"] == flat
    assert resolved["Digest"] == pushed.index_digest  # skopeo 1.9: digest of the index
    assert manifest_digest(registry.host, "smoke/d29", "v2.0.0-amd64") == pushed.index_digest
    assert manifest_digest(registry.host, "smoke/d29", "no-such-tag") is None


@pytest.mark.integration
def test_raw_put_accepts_a_crafted_bad_index(containers: ContainersEnv, registry: Registry) -> None:
    image = build_tiny_image(containers, "smoke-bad-amd64", "amd64")
    other = build_tiny_image(containers, "smoke-bad-amd64-b", "amd64")
    first = push(containers, image, registry.ref("smoke/bad", "a"))
    second = push(containers, other, registry.ref("smoke/bad", "b"))
    amd64 = {"architecture": "amd64", "os": "linux"}
    entries = [
        descriptor(OCI_MANIFEST, get_manifest(registry.host, "smoke/bad", d).body, platform=amd64)
        for d in (first, second)
    ]
    body = json_bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})

    digest = put_manifest(registry.host, "smoke/bad", "two-amd64", body, OCI_INDEX)

    assert tag_digest(registry.host, "smoke/bad", "two-amd64") == digest
    missing = dict(entries[0], digest="sha256:" + "0" * 64)
    bad = json_bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [missing]})
    with pytest.raises(RegistryHTTPError) as err:
        put_manifest(registry.host, "smoke/bad", "dangling", bad, OCI_INDEX)
    assert err.value.status_code == 400


@pytest.mark.integration
def test_platform_resolution_picks_the_matching_entry(
    containers: ContainersEnv, registry: Registry
) -> None:
    repo = "smoke/multi"
    digests = {
        arch: push(
            containers,
            build_tiny_image(containers, f"smoke-multi-{arch}", arch, variant=variant),
            registry.ref(repo, arch),
        )
        for arch, variant in (("amd64", None), ("arm64", "v8"))
    }
    wrapped = wrap_docker29(registry.host, repo, digests["arm64"], "arm64-d29")
    d29_index = get_manifest(registry.host, repo, wrapped.index_digest).json()
    entries = [
        descriptor(
            OCI_MANIFEST,
            get_manifest(registry.host, repo, digests["amd64"]).body,
            platform={"architecture": "amd64", "os": "linux"},
        ),
        *d29_index["manifests"],  # arm64/v8 image, then its attestation (unknown/unknown)
    ]
    body = json_bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    put_manifest(registry.host, repo, "multi", body, OCI_INDEX)

    ref = registry.ref(repo, "multi")
    assert skopeo_inspect_platform(ref, "linux", "amd64")["ResolvedDigest"] == digests["amd64"]
    arm64 = skopeo_inspect_platform(ref, "linux", "arm64", "v8")
    assert arm64["ResolvedDigest"] == digests["arm64"]
    assert arm64["Architecture"] == "arm64"
    flat = skopeo_inspect_platform(registry.ref(repo, "amd64"), "linux", "amd64")
    assert flat["ResolvedDigest"] == flat["Digest"] == digests["amd64"]


GO_MAIN = """\
package main

import (
\t"fmt"
\t"net/http"
\t"runtime"
)

func main() {
\thttp.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
\t\tfmt.Fprintf(w, "go %s/%s\\n", runtime.GOOS, runtime.GOARCH)
\t})
\tif err := http.ListenAndServe(":8080", nil); err != nil {
\t\tpanic(err)
\t}
}
"""

GO_DOCKERFILE = f"""\
ARG GO_IMAGE={GO_IMAGE}
ARG RUNTIME_IMAGE={RUNTIME_IMAGE}
FROM ${{GO_IMAGE}} AS build
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src
COPY go.mod main.go ./
RUN mkdir -p /out && go build -trimpath -o /out/server .
FROM ${{RUNTIME_IMAGE}}
COPY --from=build /out/server /server
USER 65532:65532
ENTRYPOINT ["/server"]
"""

PY_SERVER = textwrap.dedent(
    """\
    import http.server, json, os, platform


    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"machine": platform.machine(), "uid": os.getuid()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)


    http.server.HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
    """
)

PY_DOCKERFILE = f"""\
ARG PYTHON_IMAGE={PYTHON_IMAGE}
FROM ${{PYTHON_IMAGE}}
WORKDIR /app
COPY smoke_server.py /app/smoke_server.py
USER 10001:10001
CMD ["python3", "-m", "smoke_server"]
"""


@pytest.mark.e2e
@pytest.mark.usefixtures("arm64_emulation")
def test_base_images_build_and_run_both_platforms(
    containers: ContainersEnv,
    client_containers: ContainersEnv,
    registry: Registry,
    base_images: BaseImages,
    tmp_path: Path,
) -> None:
    assert set(base_images.names) == {GO_IMAGE, RUNTIME_IMAGE, PYTHON_IMAGE}
    go_ctx, py_ctx = tmp_path / "go", tmp_path / "py"
    go_ctx.mkdir()
    py_ctx.mkdir()
    (go_ctx / "main.go").write_text(GO_MAIN)
    (go_ctx / "go.mod").write_text("module example.com/smoke\n\ngo 1.26\n")
    (go_ctx / "Dockerfile").write_text(GO_DOCKERFILE)
    (py_ctx / "smoke_server.py").write_text(PY_SERVER)
    (py_ctx / "Dockerfile").write_text(PY_DOCKERFILE)

    build_app_image(containers, go_ctx, "linux/amd64", "smoke-go:amd64", {})
    build_app_image(containers, py_ctx, "linux/arm64", "smoke-py:arm64", {})
    go_digest = push(containers, "smoke-go:amd64", registry.ref("smoke/app", "go-amd64"))
    py_digest = push(containers, "smoke-py:arm64", registry.ref("smoke/app", "py-arm64"))
    # Run the Go one through a Docker-29 index, as the rehearsal will.
    wrapped = wrap_docker29(registry.host, "smoke/app", go_digest, "go-amd64-d29")
    assert skopeo_config(registry.ref("smoke/app", "py-arm64"))["variant"] == "v8"

    go_ref = registry.ref("smoke/app", "go-amd64-d29")
    go_ctr = run_container(client_containers, go_ref, "amd64")
    try:
        assert go_ctr.image_digest == wrapped.index_digest
        assert wrapped.image_digest in go_ctr.repo_digests
        assert (
            go_ctr.image_id
            == get_manifest(registry.host, "smoke/app", go_digest).json()["config"]["digest"]
        )
        assert httpx.get(go_ctr.url, timeout=10).text == "go linux/amd64\n"
    finally:
        go_ctr.stop()
    py_ctr = run_container(client_containers, registry.ref("smoke/app", "py-arm64"), "arm64")
    try:
        assert py_ctr.image_digest == py_digest
        assert httpx.get(py_ctr.url, timeout=10).json() == {"machine": "aarch64", "uid": 10001}
    finally:
        py_ctr.stop()
