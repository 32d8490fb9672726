"""Media types and annotation keys, with their specifications.

- OCI image-spec v1.1.1: https://github.com/opencontainers/image-spec/blob/v1.1.1/media-types.md
- Docker Image Manifest V2 Schema 2:
  https://distribution.github.io/distribution/spec/manifest-v2-2/
- Docker attestation storage:
  https://docs.docker.com/build/metadata/attestations/attestation-storage/
"""

from typing import Final

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"

IMAGE_MANIFESTS: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_CONFIGS: Final = frozenset({OCI_CONFIG, DOCKER_CONFIG})

# Every manifest and index type we read, so a registry never falls back to schema 1.
MANIFEST_ACCEPT: Final = f"{OCI_INDEX}, {DOCKER_MANIFEST_LIST}, {OCI_MANIFEST}, {DOCKER_MANIFEST}"

# Docker marks its provenance/SBOM manifests inside an image index with these.
DOCKER_REFERENCE_TYPE: Final = "vnd.docker.reference.type"
DOCKER_REFERENCE_DIGEST: Final = "vnd.docker.reference.digest"  # the image it is about
ATTESTATION_MANIFEST: Final = "attestation-manifest"

# Pre-defined annotation keys (image-spec annotations.md); the namespace is reserved.
OCI_ANNOTATION_PREFIX: Final = "org.opencontainers.image."
OCI_CREATED: Final = "org.opencontainers.image.created"
OCI_SOURCE: Final = "org.opencontainers.image.source"
OCI_REVISION: Final = "org.opencontainers.image.revision"
OCI_VERSION: Final = "org.opencontainers.image.version"
OCI_TITLE: Final = "org.opencontainers.image.title"
OCI_ANNOTATION_KEYS: Final = frozenset(
    OCI_ANNOTATION_PREFIX + name
    for name in (
        "created",
        "authors",
        "url",
        "documentation",
        "source",
        "version",
        "revision",
        "vendor",
        "licenses",
        "ref.name",
        "title",
        "description",
        "base.digest",
        "base.name",
    )
)
# Image labels worth carrying onto each index entry: the variants come from different
# codebases, so each entry says which source, revision and version it was built from.
ENTRY_LABELS: Final = (OCI_SOURCE, OCI_REVISION, OCI_VERSION, OCI_TITLE)
