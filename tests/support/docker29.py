"""Docker-29-style pushes and raw registry calls, independent of ``metrics_api.oci``.

Docker 29 (containerd image store, provenance on by default) turns every single-platform
push into an OCI index: the image manifest plus an attestation manifest (platform
``unknown/unknown``, ``vnd.docker.reference.*`` annotations) whose layers are in-toto
statements. ``wrap_docker29()`` produces exactly that shape around an image already in
the registry, with the attestation layers BuildKit writes for the options given
(``MODE_MIN``, ``MODE_MAX``, ``WITH_SBOM``); the raw helpers let tests craft broken
manifests on purpose.
Format: docs.docker.com "Image attestation storage" (build/metadata/attestations).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urljoin

import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
IN_TOTO = "application/vnd.in-toto+json"
SLSA_PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2"
IN_TOTO_STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
SPDX_DOCUMENT = "https://spdx.dev/Document"
PREDICATE_TYPE = "in-toto.io/predicate-type"
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


class Statement(NamedTuple):
    """One in-toto statement of an attestation manifest: its predicate type and predicate."""

    predicate_type: str
    predicate: dict[str, Any]


def _min_predicate() -> dict[str, Any]:
    return {
        "builder": {"id": ""},
        "buildType": "https://mobyproject.org/buildkit@v1",
        "materials": [],
        "invocation": {"configSource": {}, "parameters": {"frontend": "dockerfile.v0"}},
        "metadata": {
            "buildInvocationID": "metrics-api-tests",
            "completeness": {"parameters": False, "environment": True, "materials": False},
            "reproducible": False,
        },
    }


def provenance(mode: str = "min") -> Statement:
    """SLSA provenance v0.2 as BuildKit writes it for ``--provenance=mode=min|max``.

    mode=max adds the build's full definition and per-step metadata: a much larger
    statement (still one layer; several layers come from SBOMs, see ``MODE_MAX``).
    """
    predicate = _min_predicate()
    if mode == "max":
        predicate["materials"] = [
            {
                "uri": "pkg:docker/golang@1.26-bookworm?platform=linux%2Famd64",
                "digest": {"sha256": "1" * 64},
            }
        ]
        predicate["invocation"]["parameters"]["args"] = {"build-arg:VERSION": "2.0.0"}
        predicate["invocation"]["configSource"] = {"entryPoint": "Dockerfile"}
        predicate["buildConfig"] = {
            "llbDefinition": [
                {"id": f"step{i}", "op": {"Op": {"exec": {"meta": {"args": ["go", "build"]}}}}}
                for i in range(40)
            ]
        }
        predicate["metadata"]["completeness"] = {
            "parameters": True,
            "environment": True,
            "materials": False,
        }
        predicate["metadata"]["https://mobyproject.org/buildkit@v1#metadata"] = {
            "vcs": {"revision": "0" * 40, "source": "https://git.example.com/metrics-api"},
            "source": {"locations": {f"step{i}": {} for i in range(40)}},
            "layers": {"step39:0": [[{"mediaType": "application/vnd.oci.image.layer.v1.tar"}]]},
        }
    return Statement(SLSA_PROVENANCE_V02, predicate)


def spdx_sbom(scanned: str = "image") -> Statement:
    """An SPDX 2.3 SBOM statement as BuildKit's scanner writes one for ``--sbom=true``."""
    return Statement(
        SPDX_DOCUMENT,
        {
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": f"sbom of the {scanned}",
            "documentNamespace": f"https://docker.com/docker-scout/sbom/{scanned}",
            "creationInfo": {
                "creators": ["Organization: Anchore, Inc", "Tool: syft-v1.20.0"],
                "created": "2026-01-01T00:00:00Z",
            },
            "packages": [
                {
                    "name": name,
                    "SPDXID": f"SPDXRef-Package-{name}",
                    "versionInfo": version,
                    "downloadLocation": "NOASSERTION",
                }
                for name, version in (("metrics-api", "2.0.0"), ("golang.org/x/net", "0.40.0"))
            ],
        },
    )


# What ``docker buildx build --push`` attaches: the default (provenance, mode=min); mode=max
# with SBOMs of the image and of a build stage (BUILDKIT_SBOM_SCAN_STAGE); provenance plus
# the image's SBOM.
MODE_MIN = (provenance("min"),)
MODE_MAX = (provenance("max"), spdx_sbom("image"), spdx_sbom("build stage"))
WITH_SBOM = (provenance("min"), spdx_sbom("image"))


def provenance_statement(
    subject_name: str, image_digest: str, predicate: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """In-toto statement (SLSA provenance v0.2) about one image manifest, as BuildKit writes."""
    content = Statement(
        SLSA_PROVENANCE_V02, dict(predicate) if predicate is not None else _min_predicate()
    )
    return in_toto_statement(subject_name, image_digest, content)


def in_toto_statement(subject_name: str, image_digest: str, content: Statement) -> dict[str, Any]:
    """In-toto statement v0.1 about one image manifest, as BuildKit writes."""
    algo, hex_digest = image_digest.split(":", 1)
    return {
        "_type": IN_TOTO_STATEMENT_V01,
        "predicateType": content.predicate_type,
        "subject": [{"name": subject_name, "digest": {algo: hex_digest}}],
        "predicate": content.predicate,
    }


def wrap_docker29(  # noqa: PLR0913 - keyword options for crafted variants
    host: str,
    repository: str,
    image: str,
    tag: str,
    *,
    platform: Mapping[str, Any] | None = None,
    statements: int | Sequence[Statement] = 1,
    about: str | None = None,
) -> Docker29Push:
    """Wrap a pushed flat image manifest into a Docker-29 per-platform index tagged ``tag``.

    ``image`` is a tag or digest of an image manifest already in ``repository``.
    ``platform`` overrides the entry's platform (default: read from the image config),
    e.g. to fake an arm64 entry around an amd64 image. ``statements``: the in-toto layers of
    the attestation (``MODE_MIN``, ``MODE_MAX``, ``WITH_SBOM``), or a number of provenance
    statements. ``about``: the image digest the statements' subjects name (default: the
    image's own), to craft a lying attestation.
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

    if isinstance(statements, int):
        statements = [
            provenance() if i == 0 else Statement(SLSA_PROVENANCE_V02, {"note": f"statement {i}"})
            for i in range(statements)
        ]
    layers: list[dict[str, Any]] = []
    for content in statements:
        blob = json_bytes(in_toto_statement(subject, about or manifest.digest, content))
        push_blob(host, repository, blob)
        layers.append(
            descriptor(IN_TOTO, blob, annotations={PREDICATE_TYPE: content.predicate_type})
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
    "MODE_MAX",
    "MODE_MIN",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "PREDICATE_TYPE",
    "SLSA_PROVENANCE_V02",
    "SPDX_DOCUMENT",
    "WITH_SBOM",
    "Docker29Push",
    "RawManifest",
    "RegistryHTTPError",
    "Statement",
    "delete_manifest",
    "descriptor",
    "get_blob",
    "get_manifest",
    "in_toto_statement",
    "json_bytes",
    "manifest_digest",
    "platform_of_config",
    "provenance",
    "provenance_statement",
    "push_blob",
    "put_manifest",
    "spdx_sbom",
    "tag_digest",
    "wrap_docker29",
]
