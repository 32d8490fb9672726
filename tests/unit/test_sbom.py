"""The SBOM statement made from a scanner's document, and what verification wants of one."""

import json
from typing import Any

import pytest

from metrics_api.oci.errors import SbomError
from metrics_api.oci.release import sbom
from metrics_api.oci.release.provenance import BaseImage
from metrics_api.oci.release.sbom import (
    Scan,
    normalised_document,
    sbom_statement,
)
from metrics_api.oci.release.sbom_check import document_problems
from metrics_api.oci.release.statements import SPDX_DOCUMENT

IMAGE = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
NAME = "pkg:docker/registry.example.com/metrics-api@v2.0.0-amd64?platform=linux%2Famd64"
SCANNER = BaseImage(uri="docker.io/anchore/syft:v1.57.2", digest="sha256:" + "5" * 64)
SYFT_NAMESPACE = "https://anchore.com/syft/dir/metrics-api-0b5e8e3c-6a2f-4d5e-9c1b-2f3e4d5a6b7c"


def syft_document(**changes: object) -> dict[str, Any]:
    """The shape of what syft v1.57 writes for a folder (one package, one root it describes)."""
    document: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "metrics-api",
        "documentNamespace": SYFT_NAMESPACE,
        "creationInfo": {
            "licenseListVersion": "3.27",
            "creators": ["Organization: Anchore, Inc", "Tool: syft-1.57.2"],
            "created": "2026-12-06T21:00:07Z",
        },
        "packages": [
            {"name": "python3.11", "SPDXID": "SPDXRef-Package-deb-python3.11-1"},
            {"name": "metrics-api", "SPDXID": "SPDXRef-DocumentRoot-Directory-metrics-api"},
        ],
        "relationships": [
            {
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relatedSpdxElement": "SPDXRef-DocumentRoot-Directory-metrics-api",
                "relationshipType": "DESCRIBES",
            }
        ],
    }
    document.update(changes)
    return document


def scanned(document: dict[str, Any]) -> Scan:
    return Scan(json.dumps(document).encode(), SCANNER)


def test_the_namespace_and_time_come_from_the_image_not_the_run() -> None:
    """Two runs of the scanner on one image differ in namespace and time: normalised, equal."""
    first = scanned(syft_document())
    second = scanned(
        syft_document(
            documentNamespace="https://anchore.com/syft/dir/metrics-api-"
            "11111111-2222-4333-8444-555555555555",
            creationInfo={
                "licenseListVersion": "3.27",
                "creators": ["Organization: Anchore, Inc", "Tool: syft-1.57.2"],
                "created": "2026-12-06T23:59:59Z",
            },
        )
    )
    created = "2026-12-01T10:00:00.123456789Z"
    one = normalised_document(first, IMAGE, created, "linux/amd64")
    two = normalised_document(second, IMAGE, created, "linux/amd64")
    assert sbom_statement(IMAGE, NAME, one) == sbom_statement(IMAGE, NAME, two)
    namespace = str(one["documentNamespace"])
    assert namespace.startswith("https://anchore.com/syft/dir/metrics-api-")
    assert namespace != SYFT_NAMESPACE
    other = normalised_document(first, OTHER, created, "linux/amd64")
    assert other["documentNamespace"] != namespace  # another image, another document
    info = one["creationInfo"]
    assert isinstance(info, dict)
    assert info["created"] == "2026-12-01T10:00:00Z"
    assert info["creators"] == [
        "Organization: Anchore, Inc",
        "Tool: syft-1.57.2",
        f"Tool: {SCANNER.uri}@{SCANNER.digest}",
    ]


def test_an_image_without_a_time_is_dated_at_the_epoch() -> None:
    for created in (None, "", "not a time"):
        document = normalised_document(scanned(syft_document()), IMAGE, created, "linux/amd64")
        info = document["creationInfo"]
        assert isinstance(info, dict)
        assert info["created"] == "1970-01-01T00:00:00Z"


def test_a_namespace_without_a_uuid_gets_one_derived_from_the_image() -> None:
    plain = syft_document(documentNamespace="https://example.com/sboms/")
    document = normalised_document(scanned(plain), IMAGE, None, "linux/amd64")
    assert str(document["documentNamespace"]).startswith("https://example.com/sboms/")
    missing = syft_document()
    del missing["documentNamespace"]
    document = normalised_document(scanned(missing), IMAGE, None, "linux/amd64")
    assert str(document["documentNamespace"]).startswith("urn:uuid:")


def test_the_statement_is_about_the_image_with_the_spdx_predicate_type() -> None:
    document = normalised_document(scanned(syft_document()), IMAGE, None, "linux/amd64")
    statement = json.loads(sbom_statement(IMAGE, NAME, document))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == SPDX_DOCUMENT == "https://spdx.dev/Document"
    assert statement["subject"] == [{"name": NAME, "digest": {"sha256": "a" * 64}}]
    assert statement["predicate"] == document


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (b"<html>not json</html>", "to write SPDX JSON, found 21 bytes that are not JSON"),
        (
            json.dumps(syft_document(spdxVersion="SPDX-2.2")).encode(),
            "to write an SPDX-2.3 document, found spdxVersion 'SPDX-2.2'",
        ),
        (b"[]", "to write an SPDX-2.3 document, found spdxVersion None"),
    ],
)
def test_a_scanner_that_writes_no_spdx_23_is_named(written: bytes, expected: str) -> None:
    with pytest.raises(SbomError) as raised:
        normalised_document(Scan(written, SCANNER), IMAGE, None, "linux/arm64")
    message = str(raised.value)
    assert message.startswith(f"linux/arm64: expected the SBOM scanner {SCANNER.uri} ")
    assert expected in message


def test_a_statement_over_buildkits_limit_is_refused_with_both_sizes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert sbom.STATEMENT_SIZE_LIMIT == 40 * 1024 * 1024
    monkeypatch.setattr(sbom, "STATEMENT_SIZE_LIMIT", 100)
    document = normalised_document(scanned(syft_document()), IMAGE, None, "linux/amd64")
    size = len(json.dumps(document))  # the statement is larger still
    with pytest.raises(SbomError) as raised:
        sbom_statement(IMAGE, NAME, document)
    message = str(raised.value)
    assert "expected an SBOM statement of at most 100 bytes (BuildKit's limit), found " in message
    found = int(message.split("found ")[1].split(";", maxsplit=1)[0])
    assert found > size


def test_verification_counts_the_packages_besides_the_scanned_root() -> None:
    assert document_problems(syft_document()) == ([], 1)
    no_packages = syft_document(packages=[syft_document()["packages"][1]])
    assert document_problems(no_packages) == ([], 0)  # verify --require-sbom refuses it
    older = syft_document(relationships=[], documentDescribes=["SPDXRef-Package-deb-python3.11-1"])
    assert document_problems(older) == ([], 1)  # the other package is now the root
    problems, _ = document_problems(syft_document(spdxVersion="SPDX-2.2", documentNamespace=""))
    assert problems == [
        "spdxVersion is 'SPDX-2.2', not SPDX-2.3",
        "it has no documentNamespace",
    ]
    assert document_problems("text") == (["its predicate is not a JSON object"], 0)
