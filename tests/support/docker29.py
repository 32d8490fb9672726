"""Docker-29-style pushes and raw registry calls, independent of ``metrics_api.oci``.

Docker 29 (containerd image store, provenance on by default) turns every single-platform
push into an OCI index: the image manifest plus an attestation manifest (platform
``unknown/unknown``, ``vnd.docker.reference.*`` annotations) whose layers are in-toto
statements. ``wrap_docker29()`` produces exactly that shape around an image already in
the registry; the raw helpers let tests craft broken manifests on purpose.
Format: docs.docker.com "Image attestation storage" (build/metadata/attestations).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urljoin

import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
IN_TOTO = "application/vnd.in-toto+json"
SLSA_PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2"
IN_TOTO_STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
ATTESTATION_REF_TYPE = "attestation-manifest"
ALL_MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
ACCEPT_ALL = ", ".join(ALL_MANIFEST_TYPES)
IMAGE_MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)

HTTP_TIMEOUT = 30.0


class RegistryHTTPError(RuntimeError):
    """A registry call answered with an unexpected status; carries status and body."""

    def __init__(self, what: str, resp: httpx.Response) -> None:
        """Say what we tried and what the registry answered (its error JSON is useful)."""
        self.status_code = resp.status_code
        self.body = resp.text
        super().__init__(
            f"{what}: {resp.request.method} {resp.request.url} -> HTTP {resp.status_code}: "
            f"{resp.text[:1000]}"
        )


class RawManifest(NamedTuple):
    """Manifest bytes exactly as served, with the Content-Type and digest of those bytes."""

    body: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, Any]:
        """Parsed body."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class Docker29Push(NamedTuple):
    """What a Docker 29 push of one platform leaves in the registry."""

    index_digest: str
    image_digest: str
    attestation_digest: str


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of exact bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def json_bytes(obj: object) -> bytes:
    """Serialize a manifest once; push and hash these same bytes (never re-serialize)."""
    return json.dumps(obj, separators=(",", ":")).encode()


def descriptor(
    media_type: str,
    body: bytes,
    *,
    platform: Mapping[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """OCI descriptor for ``body`` (field order as Docker writes it)."""
    desc: dict[str, Any] = {
        "mediaType": media_type,
        "digest": sha256_digest(body),
        "size": len(body),
    }
    if annotations:
        desc["annotations"] = dict(annotations)
    if platform:
        desc["platform"] = dict(platform)
    return desc


def _client(host: str) -> httpx.Client:
    return httpx.Client(base_url=f"http://{host}", trust_env=False, timeout=HTTP_TIMEOUT)


def _reference_path(repository: str, reference: str) -> str:
    return f"/v2/{repository}/manifests/{quote(reference, safe=':')}"


def push_blob(host: str, repository: str, data: bytes) -> str:
    """Monolithic upload (POST, then PUT ?digest=); returns the blob digest."""
    digest = sha256_digest(data)
    with _client(host) as client:
        if client.head(f"/v2/{repository}/blobs/{digest}").status_code == httpx.codes.OK:
            return digest
        start = client.post(f"/v2/{repository}/blobs/uploads/")
        if start.status_code != httpx.codes.ACCEPTED:
            raise RegistryHTTPError(f"start blob upload to {host}/{repository}", start)
        location = urljoin(
            f"http://{host}/v2/{repository}/blobs/uploads/", start.headers["Location"]
        )
        sep = "&" if "?" in location else "?"
        done = client.put(
            f"{location}{sep}digest={quote(digest, safe=':')}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if done.status_code != httpx.codes.CREATED:
            raise RegistryHTTPError(f"finish blob upload {digest} to {host}/{repository}", done)
    return digest


def get_blob(host: str, repository: str, digest: str) -> bytes:
    """Blob bytes, checked against their digest."""
    with _client(host) as client:
        resp = client.get(f"/v2/{repository}/blobs/{digest}", follow_redirects=True)
    if resp.status_code != httpx.codes.OK:
        raise RegistryHTTPError(f"get blob {digest} from {host}/{repository}", resp)
    if sha256_digest(resp.content) != digest:
        raise AssertionError(f"blob {digest} from {host}/{repository} has other bytes")
    return resp.content


def put_manifest(host: str, repository: str, reference: str, body: bytes, media_type: str) -> str:
    """PUT raw manifest bytes (any content, even invalid) to a tag or digest.

    Returns the registry's Docker-Content-Digest, checked against sha256 of ``body``.
    Raises RegistryHTTPError when the registry refuses (tests assert on ``status_code``).
    """
    with _client(host) as client:
        resp = client.put(
            _reference_path(repository, reference),
            content=body,
            headers={"Content-Type": media_type},
        )
    if resp.status_code != httpx.codes.CREATED:
        raise RegistryHTTPError(f"put manifest {host}/{repository}:{reference}", resp)
    digest = sha256_digest(body)
    served = resp.headers.get("Docker-Content-Digest", digest)
    if served != digest:
        raise AssertionError(f"registry says {served} for manifest bytes with digest {digest}")
    return digest


def get_manifest(host: str, repository: str, reference: str) -> RawManifest:
    """GET a manifest (any of the four types) as raw bytes with its Content-Type."""
    with _client(host) as client:
        resp = client.get(_reference_path(repository, reference), headers={"Accept": ACCEPT_ALL})
    if resp.status_code != httpx.codes.OK:
        raise RegistryHTTPError(f"get manifest {host}/{repository}:{reference}", resp)
    digest = sha256_digest(resp.content)
    if reference.startswith("sha256:") and digest != reference:
        raise AssertionError(f"{host}/{repository}@{reference} served bytes with {digest}")
    return RawManifest(resp.content, resp.headers.get("Content-Type", ""), digest)


def manifest_digest(host: str, repository: str, reference: str) -> str | None:
    """Digest a tag (or digest) points at: HEAD with all four Accept types; None if absent."""
    with _client(host) as client:
        resp = client.head(_reference_path(repository, reference), headers={"Accept": ACCEPT_ALL})
    if resp.status_code == httpx.codes.NOT_FOUND:
        return None
    if resp.status_code != httpx.codes.OK:
        raise RegistryHTTPError(f"head manifest {host}/{repository}:{reference}", resp)
    digest = resp.headers.get("Docker-Content-Digest")
    if digest is None:
        return get_manifest(host, repository, reference).digest
    return str(digest)


def tag_digest(host: str, repository: str, tag: str) -> str:
    """Digest a tag points at; LookupError when the tag does not exist."""
    digest = manifest_digest(host, repository, tag)
    if digest is None:
        raise LookupError(f"{host}/{repository}:{tag} does not exist")
    return digest


def delete_manifest(host: str, repository: str, digest: str) -> None:
    """Delete a manifest by digest (the test registry has delete enabled)."""
    with _client(host) as client:
        resp = client.delete(_reference_path(repository, digest))
    if resp.status_code != httpx.codes.ACCEPTED:
        raise RegistryHTTPError(f"delete manifest {host}/{repository}@{digest}", resp)


def platform_of_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Index platform object from an image config (variant/os.version/os.features if set)."""
    platform: dict[str, Any] = {"architecture": config["architecture"], "os": config["os"]}
    for key in ("os.version", "os.features", "variant"):
        if config.get(key):
            platform[key] = config[key]
    return platform


def provenance_statement(
    subject_name: str, image_digest: str, predicate: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """In-toto statement (SLSA provenance v0.2) about one image manifest, as BuildKit writes."""
    algo, hex_digest = image_digest.split(":", 1)
    return {
        "_type": IN_TOTO_STATEMENT_V01,
        "predicateType": SLSA_PROVENANCE_V02,
        "subject": [{"name": subject_name, "digest": {algo: hex_digest}}],
        "predicate": dict(predicate)
        if predicate is not None
        else {
            "builder": {"id": ""},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "materials": [],
            "invocation": {"configSource": {}, "parameters": {"frontend": "dockerfile.v0"}},
            "metadata": {
                "buildInvocationID": "metrics-api-tests",
                "completeness": {"parameters": False, "environment": True, "materials": False},
                "reproducible": False,
            },
        },
    }


def wrap_docker29(  # noqa: PLR0913 - keyword options for crafted variants
    host: str,
    repository: str,
    image: str,
    tag: str,
    *,
    platform: Mapping[str, Any] | None = None,
    statements: int = 1,
) -> Docker29Push:
    """Wrap a pushed flat image manifest into a Docker-29 per-platform index tagged ``tag``.

    ``image`` is a tag or digest of an image manifest already in ``repository``.
    ``platform`` overrides the entry's platform (default: read from the image config),
    e.g. to fake an arm64 entry around an amd64 image. ``statements`` in-toto layers are
    attached (Docker attaches one provenance statement; SBOMs would add more).
    Returns (index digest, image digest, attestation digest).
    """
    manifest = get_manifest(host, repository, image)
    if manifest.media_type not in IMAGE_MANIFEST_TYPES:
        raise ValueError(
            f"{host}/{repository}:{image} is {manifest.media_type}, not an image manifest"
        )
    image_json = manifest.json()
    if platform is None:
        config = json.loads(get_blob(host, repository, image_json["config"]["digest"]))
        platform = platform_of_config(config)
    plat = "/".join(str(platform[k]) for k in ("os", "architecture", "variant") if platform.get(k))
    subject = f"pkg:docker/{host}/{repository}@{tag}?platform={quote(plat, safe='')}"

    layers: list[dict[str, Any]] = []
    for i in range(statements):
        predicate = None if i == 0 else {"note": f"statement {i}"}
        blob = json_bytes(provenance_statement(subject, manifest.digest, predicate))
        push_blob(host, repository, blob)
        layers.append(
            descriptor(
                IN_TOTO, blob, annotations={"in-toto.io/predicate-type": SLSA_PROVENANCE_V02}
            )
        )
    att_config = json_bytes(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        }
    )
    push_blob(host, repository, att_config)
    attestation = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, att_config),
            "layers": layers,
        }
    )
    attestation_digest = put_manifest(
        host, repository, sha256_digest(attestation), attestation, OCI_MANIFEST
    )
    index = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                descriptor(manifest.media_type, manifest.body, platform=platform),
                descriptor(
                    OCI_MANIFEST,
                    attestation,
                    platform={"architecture": "unknown", "os": "unknown"},
                    annotations={
                        "vnd.docker.reference.digest": manifest.digest,
                        "vnd.docker.reference.type": ATTESTATION_REF_TYPE,
                    },
                ),
            ],
        }
    )
    index_digest = put_manifest(host, repository, tag, index, OCI_INDEX)
    return Docker29Push(index_digest, manifest.digest, attestation_digest)


__all__ = [
    "ACCEPT_ALL",
    "ALL_MANIFEST_TYPES",
    "ATTESTATION_REF_TYPE",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "IN_TOTO",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "SLSA_PROVENANCE_V02",
    "Docker29Push",
    "RawManifest",
    "RegistryHTTPError",
    "delete_manifest",
    "descriptor",
    "get_blob",
    "get_manifest",
    "json_bytes",
    "manifest_digest",
    "platform_of_config",
    "provenance_statement",
    "push_blob",
    "put_manifest",
    "tag_digest",
    "wrap_docker29",
]
