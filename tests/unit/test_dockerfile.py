from pathlib import Path

import pytest

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.release.dockerfile import base_images, final_base, pin_bases

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
AMD64 = (ROOT / "app-amd64" / "Dockerfile").read_text()
ARM64 = (ROOT / "app-arm64" / "Dockerfile").read_text()


def test_the_go_variant_builds_on_its_two_default_images() -> None:
    assert base_images(AMD64, {}) == [
        "docker.io/library/golang:1.26-bookworm",
        "gcr.io/distroless/static-debian12:nonroot",
    ]


def test_a_build_arg_replaces_the_go_image_and_the_build_stage_is_no_image() -> None:
    stamps = {"VERSION": "2.0.0", "REVISION": "abc", "SOURCE": "https://git.example.com/m"}
    mirrored = {**stamps, "GO_IMAGE": "registry.example.com/mirror/golang:1.26-bookworm"}
    assert base_images(AMD64, mirrored) == [
        "registry.example.com/mirror/golang:1.26-bookworm",
        "gcr.io/distroless/static-debian12:nonroot",
    ]


def test_the_python_variant_builds_on_one_image() -> None:
    assert base_images(ARM64, {"VERSION": "2.0.0"}) == ["docker.io/library/python:3.12-slim"]
    assert base_images(ARM64, {"PYTHON_IMAGE": "python:3.13"}) == ["python:3.13"]


def test_scratch_and_earlier_stages_are_not_images() -> None:
    text = (
        "FROM golang:1.26 AS Build\n"
        "FROM build AS again\n"
        "FROM scratch\n"
        "COPY --from=again /x /x\n"
        "FROM BUILD\n"
    )
    assert base_images(text, {}) == ["golang:1.26"]


def test_a_stage_named_only_later_is_an_image_as_the_builder_pulls_it() -> None:
    assert base_images("FROM later\nFROM alpine AS later\n", {}) == ["later", "alpine"]


def test_each_image_is_named_once_in_the_order_first_used() -> None:
    text = "FROM alpine:3 AS a\nFROM busybox\nFROM alpine:3\n"
    assert base_images(text, {}) == ["alpine:3", "busybox"]


def test_platform_flags_are_not_the_image() -> None:
    text = (
        "ARG BASE=alpine:3\n"
        "FROM --platform=$BUILDPLATFORM golang:1.26 AS tools\n"
        "FROM --platform=linux/arm64 ${BASE}\n"
    )
    assert base_images(text, {}) == ["golang:1.26", "alpine:3"]


@pytest.mark.parametrize(
    ("written", "build_args", "expected"),
    [
        ("$IMAGE", {}, "alpine:3"),
        ("${IMAGE}", {}, "alpine:3"),
        ("${IMAGE}", {"IMAGE": "busybox"}, "busybox"),
        ("${UNSET:-debian:12}", {}, "debian:12"),
        ("${EMPTY:-debian:12}", {}, "debian:12"),
        ("${EMPTY-debian:12}", {}, ""),
        ("${UNSET-debian:12}", {}, "debian:12"),
        ("${IMAGE:+busybox}", {}, "busybox"),
        ("${UNSET:+busybox}-x", {}, "-x"),
        ("${UNSET:-${IMAGE}}", {}, "alpine:3"),
        ("r.example/${REPO}:${TAG}", {"TAG": "v2"}, "r.example/team/app:v2"),
        ("'$IMAGE'", {}, "$IMAGE"),
        ('"${IMAGE}"', {}, "alpine:3"),
        ("\\$IMAGE", {}, "$IMAGE"),
        ("$UNDECLARED", {"UNDECLARED": "busybox"}, ""),
    ],
)
def test_arguments_are_substituted_as_the_builder_does(
    written: str, build_args: dict[str, str], expected: str
) -> None:
    text = (
        'ARG IMAGE=alpine:3\nARG EMPTY=""\nARG UNSET\nARG REPO=team/app TAG=v1\nFROM scratch\n'
        f"FROM {written} AS x\n"
    )
    if expected:
        assert base_images(text, build_args) == [expected]
    else:
        with pytest.raises(InvalidInputError, match="found an empty name"):
            base_images(text, build_args)


def test_a_build_arg_counts_only_when_declared_before_the_first_from() -> None:
    text = "FROM alpine:3\nARG LATE=busybox\nFROM ${LATE:-debian:12}\n"
    assert base_images(text, {"LATE": "ubuntu"}) == ["alpine:3", "debian:12"]


def test_an_argument_default_may_use_an_earlier_argument() -> None:
    text = "ARG REGISTRY=r.example\nARG IMAGE=${REGISTRY}/golang:1.26\nFROM $IMAGE\n"
    assert base_images(text, {}) == ["r.example/golang:1.26"]
    assert base_images(text, {"REGISTRY": "mirror.example"}) == ["mirror.example/golang:1.26"]


def test_the_target_platform_arguments_are_predefined() -> None:
    text = "FROM r.example/base:${TARGETARCH}${TARGETVARIANT:+-}${TARGETVARIANT}\n"
    assert base_images(text, {}, platform="linux/amd64") == ["r.example/base:amd64"]
    assert base_images(text, {}, platform="linux/arm/v7") == ["r.example/base:arm-v7"]


def test_continuations_comments_and_case_are_read_as_the_builder_reads_them() -> None:
    text = (
        "\ufeff# syntax=docker/dockerfile:1\n"
        "# A comment that says FROM evil:latest\n"
        "arg IMAGE=\\\n"
        "  alpine:3\n"
        "from \\\n"
        "# a comment inside the continuation\n"
        "\n"
        "   --platform=linux/amd64 \\\n"
        "   ${IMAGE} \\\n"
        "   as base\n"
        "    FROM base\n"
        'RUN echo "FROM not-an-image" \\\\\n'
        "FROM busybox\n"
    )
    assert base_images(text, {}) == ["alpine:3", "busybox"]


def test_heredoc_bodies_are_not_instructions() -> None:
    text = (
        "FROM alpine:3\n"
        "RUN <<EOF\n"
        "FROM evil:latest\n"
        "EOF\n"
        "COPY <<-'END' /etc/x\n"
        "\tFROM evil:2\n"
        "\tEND\n"
        "FROM busybox\n"
    )
    assert base_images(text, {}) == ["alpine:3", "busybox"]


def test_the_escape_directive_changes_the_continuation_character() -> None:
    text = "# escape=`\nARG IMAGE=mcr.example/windows:ltsc2022\nFROM `\n  ${IMAGE}\n"
    assert base_images(text, {}) == ["mcr.example/windows:ltsc2022"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("ARG IMAGE\nFROM ${IMAGE}\n", "found an empty name"),
        ("FROM ${IMAGE:?required}\n", "IMAGE is not set: required"),
        ("FROM ${IMAGE\n", "without its }"),
        ("FROM ${IMAGE/a/b}\n", "unsupported modifier"),
        ("FROM a b\n", "expected FROM IMAGE \\[AS NAME\\]"),
        ("FROM 'alpine\n", "unmatched single quote"),
    ],
)
def test_a_dockerfile_the_builder_refuses_is_refused(text: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        base_images(text, {})


def test_no_from_is_no_image() -> None:
    assert base_images("# nothing here\n", {}) == []


def test_the_last_stage_starts_from_an_image_a_stage_or_scratch() -> None:
    amd64 = (Path(__file__).parents[2] / "app-amd64" / "Dockerfile").read_text()
    assert final_base(amd64, {}) == "gcr.io/distroless/static-debian12:nonroot"
    assert final_base("FROM alpine AS a\nFROM a\n", {}) is None
    assert final_base("FROM alpine\nFROM scratch\n", {}) is None
    assert final_base("ARG B=debian:12\nFROM ${B}\n", {"B": "ubuntu:24.04"}) == "ubuntu:24.04"


def test_a_rebuild_pins_each_base_image_to_the_recorded_digest() -> None:
    digest = "sha256:" + "a" * 64
    text = (
        "ARG GO=golang:1.26\n"
        "FROM --platform=$BUILDPLATFORM ${GO} AS build\n"
        "RUN go build\n"
        "from gcr.io/distroless/static:nonroot\n"
        "COPY --from=build /out /out\n"
    )
    pinned = pin_bases(
        text, {}, {"golang:1.26": digest, "gcr.io/distroless/static:nonroot": digest}
    )
    assert pinned.splitlines()[1] == f"FROM --platform=$BUILDPLATFORM golang:1.26@{digest} AS build"
    assert pinned.splitlines()[3] == f"from gcr.io/distroless/static:nonroot@{digest}"
    assert pinned.splitlines()[2::2] == text.splitlines()[2::2]
    assert pin_bases(text, {}, {}) == text


def test_a_from_over_several_lines_is_refused_rather_than_guessed() -> None:
    with pytest.raises(InvalidInputError, match="each FROM of the Dockerfile on a line of its own"):
        pin_bases("FROM \\\n  alpine\n", {}, {"alpine": "sha256:" + "b" * 64})
