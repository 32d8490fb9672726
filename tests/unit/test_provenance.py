"""The provenance statement and its attestation manifest, without a registry."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement

from metrics_api.oci.release.attestation_manifests import (
    Statement as Layer,
)
from metrics_api.oci.release.attestation_manifests import (
    attestation_entry,
    attestation_manifest,
)
from metrics_api.oci.release.provenance import (
    BUILD_TYPE,
    BUILDER_ID,
    BaseImage,
    BuildFacts,
    build_definition,
    input_changes,
    statement,
)
from metrics_api.oci.release.statements import SLSA_V1

IMAGE = "sha256:" + "a" * 64
NAME = "pkg:docker/registry.example.com/metrics-api@v2.0.0-amd64?platform=linux%2Famd64"


def facts(**changes: object) -> BuildFacts:
    """The facts of an amd64 build, as the Dagger layer would fill them."""
    fields: dict[str, Any] = {
        "platform": "linux/amd64",
        "folder": "app-amd64",
        "dockerfile": "Dockerfile",
        "version": "v2.0.0",
        "revision": "0" * 40,
        "source_url": "https://git.example.com/metrics-api",
        "build_args": {"VERSION": "v2.0.0"},
        "engine_version": "v0.21.11",
        "module_version": "0.1.0",
        "source_digest": "sha256:" + "b" * 64,
        "base_images": [BaseImage(uri="golang:1.26-bookworm", digest="sha256:" + "c" * 64)],
        "started_on": datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
        "finished_on": datetime(2026, 12, 4, 12, 3, tzinfo=UTC),
        "invocation_id": "run-1",
    }
    return BuildFacts.model_validate({**fields, **changes})


def parsed(body: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(body)
    return document


def test_the_statement_says_what_was_built_from_what_by_whom_and_when() -> None:
    document = parsed(statement(IMAGE, NAME, facts()))
    assert document["_type"] == "https://in-toto.io/Statement/v1"
    assert document["subject"] == [{"name": NAME, "digest": {"sha256": "a" * 64}}]
    assert document["predicateType"] == SLSA_V1
    definition = document["predicate"]["buildDefinition"]
    assert definition["buildType"] == BUILD_TYPE
    assert definition["externalParameters"] == {
        "platform": "linux/amd64",
        "folder": "app-amd64",
        "dockerfile": "Dockerfile",
        "version": "v2.0.0",
        "revision": "0" * 40,
        "source": "https://git.example.com/metrics-api",
        "buildArgs": {"VERSION": "v2.0.0"},
    }
    assert definition["internalParameters"] == {
        "engineVersion": "v0.21.11",
        "moduleVersion": "0.1.0",
    }
    assert definition["resolvedDependencies"] == [
        {
            "name": "source folder",
            "uri": "https://git.example.com/metrics-api",
            "digest": {"sha256": "b" * 64},
        },
        {
            "name": "base image",
            "uri": "golang:1.26-bookworm",
            "digest": {"sha256": "c" * 64},
            "annotations": {"platform": "linux/amd64"},
        },
    ]
    assert document["predicate"]["runDetails"] == {
        "builder": {"id": BUILDER_ID},
        "metadata": {
            "invocationId": "run-1",
            "startedOn": "2026-12-04T12:00:00Z",
            "finishedOn": "2026-12-04T12:03:00Z",
        },
    }


def test_equal_facts_make_equal_bytes_and_a_new_run_only_new_run_details() -> None:
    first = statement(IMAGE, NAME, facts())
    assert statement(IMAGE, NAME, facts()) == first
    assert first == json.dumps(parsed(first), sort_keys=True, separators=(",", ":")).encode()
    later = facts(
        started_on=datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        finished_on=datetime(2026, 12, 5, 9, 0, tzinfo=UTC) + timedelta(minutes=2),
        invocation_id="run-2",
    )
    again = parsed(statement(IMAGE, NAME, later))
    assert again != parsed(first)
    assert again["predicate"]["buildDefinition"] == parsed(first)["predicate"]["buildDefinition"]


@pytest.mark.parametrize(
    "url",
    [
        "https://ci-bot:hunter2@git.example.com/metrics-api",
        "https://ci-bot:hun/ter2@git.example.com/metrics-api",  # a parser sees a path
        "https://git.example.com/metrics-api?private_token=hunter2",
        "https://git.example.com/metrics-api#hunter2",
    ],
)
def test_nothing_secret_enters_it(url: str) -> None:
    body = statement(IMAGE, NAME, facts(source_url=url, build_args={"SOURCE": url}))
    assert b"hunter2" not in body
    assert b"ter2" not in body
    assert b"ci-bot" not in body
    parameters = parsed(body)["predicate"]["buildDefinition"]["externalParameters"]
    assert parameters["source"] == "https://git.example.com/metrics-api"
    assert parameters["buildArgs"]["SOURCE"] == "https://git.example.com/metrics-api"


def test_it_validates_against_the_in_toto_attestation_framework() -> None:
    document = parsed(statement(IMAGE, NAME, facts()))
    proto = json_format.ParseDict(document, statement_pb2.Statement())
    Statement.copy_from_pb(proto).validate()
    # Every predicate field is one SLSA provenance v1 defines (unknown ones are refused).
    json_format.ParseDict(document["predicate"], provenance_pb2.Provenance())


def test_the_attestation_manifest_is_in_buildkits_layout() -> None:
    """The SBOM's layer first, then the provenance's, each annotated; diff_ids in that order."""
    sbom = b'{"predicateType":"https://spdx.dev/Document"}'
    body = statement(IMAGE, NAME, facts())
    made = attestation_manifest([Layer("https://spdx.dev/Document", sbom), Layer(SLSA_V1, body)])
    manifest = parsed(made.manifest.raw)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    first, layer = manifest["layers"]
    assert first["annotations"] == {"in-toto.io/predicate-type": "https://spdx.dev/Document"}
    assert first["size"] == len(sbom)
    assert layer["mediaType"] == "application/vnd.in-toto+json"
    assert layer["annotations"] == {"in-toto.io/predicate-type": SLSA_V1}
    assert layer["size"] == len(body)
    assert made.statements == (sbom, body)
    config = parsed(made.config)
    assert (config["architecture"], config["os"]) == ("unknown", "unknown")
    assert config["rootfs"]["diff_ids"] == [first["digest"], layer["digest"]]
    assert attestation_entry(made.manifest, IMAGE) == {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": made.manifest.digest,
        "size": made.manifest.size,
        "annotations": {
            "vnd.docker.reference.digest": IMAGE,
            "vnd.docker.reference.type": "attestation-manifest",
        },
        "platform": {"architecture": "unknown", "os": "unknown"},
    }


def test_the_differences_of_two_builds_name_what_changed() -> None:
    published = build_definition(facts())
    moved = [BaseImage(uri="golang:1.26-bookworm", digest="sha256:" + "d" * 64)]
    new = build_definition(
        facts(
            base_images=moved,
            source_digest="sha256:" + "e" * 64,
            build_args={"VERSION": "v2.0.1"},
            engine_version="v0.21.12",
            started_on=datetime(2026, 12, 5, tzinfo=UTC),
            invocation_id="run-2",
        )
    )

    assert input_changes("linux/amd64", published, new) == [
        f"linux/amd64: the source folder changed (sha256:{'b' * 64} → sha256:{'e' * 64})",
        (
            f"linux/amd64: the base image golang:1.26-bookworm moved from sha256:{'c' * 64} to "
            f"sha256:{'d' * 64}"
        ),
        (
            'linux/amd64: the parameter buildArgs changed from {"VERSION": "v2.0.0"} to '
            '{"VERSION": "v2.0.1"}'
        ),
        'linux/amd64: the setting engineVersion changed from "v0.21.11" to "v0.21.12"',
    ]
    # Times and invocation ids are no inputs: equal inputs, no difference.
    later = facts(started_on=datetime(2026, 12, 5, tzinfo=UTC), invocation_id="run-2")
    assert input_changes("linux/amd64", published, build_definition(later)) == []


def test_an_added_or_dropped_base_image_is_named() -> None:
    alpine = BaseImage(uri="alpine:3.22", digest="sha256:" + "f" * 64)
    published = build_definition(facts())
    new = build_definition(facts(base_images=[alpine]))

    assert input_changes("linux/arm64", published, new) == [
        f"linux/arm64: the base image alpine:3.22 is new (sha256:{'f' * 64})",
        "linux/arm64: the base image golang:1.26-bookworm is no longer used",
    ]
