"""cosign's signature storage, read and written: tags, payloads, envelopes, manifests.

cosign's signature spec keeps the signatures of ``REPO@sha256:HEX`` in an image manifest
tagged ``REPO:sha256-HEX.sig``, one layer per signature: a "simple signing" JSON payload
naming the digest, its ECDSA signature in the layer's annotation. Signed attestations
live under ``sha256-HEX.att``, one DSSE envelope per layer around an in-toto statement.
cosign v2 reads only these tags; v3 reads them too when it finds no Sigstore bundle, so
they are what both generations verify (docs/signing.md says why not v3's bundles).
"""

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass

from metrics_api.oci.signing.keys import PublicKey
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.digest import compute_digest, digest_as_tag
from metrics_api.oci.spec.models import ImageManifest, Manifest
from metrics_api.oci.spec.reference import Reference

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PREDICATE_TYPE_ANNOTATION = "predicateType"
SIGNATURE_TYPE = "cosign container image signature"
SIGNATURE_SUFFIX, ATTESTATION_SUFFIX = ".sig", ".att"


def storage_tag(repository: Reference, digest: str, suffix: str) -> Reference:
    """``REPO:sha256-HEX.sig`` (or ``.att``): where cosign looks for ``digest``'s signatures."""
    return repository.with_tag(digest_as_tag(digest) + suffix)


def simple_signing_payload(repository: Reference, digest: str) -> bytes:
    """The payload ``cosign sign`` signs for ``repository@digest``, byte for byte."""
    payload = {
        "critical": {
            "identity": {"docker-reference": repository.repository_name},
            "image": {"docker-manifest-digest": digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": None,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def signed_digest(payload: bytes) -> str | None:
    """The manifest digest a simple signing payload vouches for, or None if it is not one."""
    try:
        critical = json.loads(payload)["critical"]
        if critical["type"] != SIGNATURE_TYPE:
            return None
        digest = critical["image"]["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError):
        return None
    return digest if isinstance(digest, str) else None


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a DSSE signature signs."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope(statement: bytes, signature: bytes) -> bytes:
    """A DSSE envelope of an in-toto statement, as ``cosign attest`` stores it."""
    document = {
        "payloadType": IN_TOTO,
        "payload": base64.b64encode(statement).decode(),
        "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}],
    }
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass(frozen=True)
class OpenedEnvelope:
    """A DSSE envelope's statement and signatures."""

    statement: bytes
    signatures: tuple[bytes, ...]

    def signed_by(self, key: PublicKey) -> bool:
        """Whether one of its signatures is ``key``'s over this statement."""
        message = pae(IN_TOTO, self.statement)
        return any(key.verifies(message, signature) for signature in self.signatures)


def open_envelope(raw: bytes) -> OpenedEnvelope | None:
    """The statement and signatures of a DSSE envelope about in-toto, or None."""
    try:
        document = json.loads(raw)
        if document["payloadType"] != IN_TOTO:
            return None
        statement = base64.b64decode(document["payload"], validate=True)
        signatures = tuple(
            base64.b64decode(entry["sig"], validate=True) for entry in document["signatures"]
        )
    except (ValueError, KeyError, TypeError):
        return None
    return OpenedEnvelope(statement, signatures)


def statement_facts(statement: bytes) -> tuple[str, list[str]] | None:
    """An in-toto statement's predicate type and its subjects' sha256 digests, or None."""
    try:
        document = json.loads(statement)
        subjects = [f"sha256:{subject['digest']['sha256']}" for subject in document["subject"]]
        predicate_type = document["predicateType"]
    except (ValueError, KeyError, TypeError):
        return None
    return (predicate_type, subjects) if isinstance(predicate_type, str) else None


def layer_signature(layer: Mapping[str, object]) -> bytes | None:
    """The signature a ``.sig`` layer entry carries in its annotation, or None."""
    annotations = layer.get("annotations")
    text = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True) or None
    except ValueError:
        return None


@dataclass(frozen=True)
class Layer:
    """One signature or attestation: the blob and its descriptor's annotations."""

    media_type: str
    data: bytes
    annotations: dict[str, str]

    @property
    def descriptor(self) -> dict[str, object]:
        """Its entry in the storage manifest."""
        return {
            "mediaType": self.media_type,
            "size": len(self.data),
            "digest": compute_digest(self.data),
            "annotations": self.annotations,
        }


def signature_layer(payload: bytes, signature: bytes) -> Layer:
    """A ``.sig`` layer: the payload, its signature in the annotation."""
    annotations = {SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()}
    return Layer(SIMPLE_SIGNING, payload, annotations)


def attestation_layer(statement: bytes, signature: bytes, predicate_type: str) -> Layer:
    """An ``.att`` layer: the DSSE envelope, its predicate type annotated as cosign does."""
    annotations = {SIGNATURE_ANNOTATION: "", PREDICATE_TYPE_ANNOTATION: predicate_type}
    return Layer(DSSE_ENVELOPE, envelope(statement, signature), annotations)


def storage_config(layers: list[dict[str, object]]) -> bytes:
    """The image configuration cosign gives its storage manifests: one diff ID per layer."""
    config = {
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        "config": {},
    }
    return json.dumps(config, separators=(",", ":")).encode()


def storage_manifest(config: bytes, layers: list[dict[str, object]]) -> bytes:
    """The OCI image manifest that holds the layers under a ``.sig`` or ``.att`` tag."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "config": {
            "mediaType": media_types.OCI_CONFIG,
            "size": len(config),
            "digest": compute_digest(config),
        },
        "layers": layers,
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


def existing_layers(manifest: Manifest | None) -> list[dict[str, object]]:
    """The layer entries of a storage manifest, exactly as stored (kept when adding one)."""
    if manifest is None or not isinstance(manifest.document, ImageManifest):
        return []
    layers = json.loads(manifest.raw).get("layers") or []
    return [layer for layer in layers if isinstance(layer, dict)]
