"""The command line through a real forward proxy (tinyproxy): what HTTP(S)_PROXY promise holds.

Plain HTTP is forwarded, HTTPS goes through a CONNECT tunnel (the registry's certificate is
still checked end to end), NO_PROXY and loopback registries go direct, and a proxy that
cannot be reached is one error line that shows none of its credentials.
"""

import socket
from collections.abc import Iterator

import pytest
from support.oci_cli import CliResult, TlsRegistry, Variants, run_cli
from support.proc import ToolMissingError
from support.registry import Registry, RegistryStartError, free_port
from support.tinyproxy import TinyProxy

pytestmark = pytest.mark.integration

# Only what a test sets: a proxy in this machine's own environment must not interfere.
UNSET = dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"), "")
UNSET |= {name.lower(): value for name, value in UNSET.items()}


class NamedRegistry(Registry):
    """A plain-HTTP registry under this machine's name: not loopback, so it may be proxied."""

    @property
    def host(self) -> str:
        """``NAME:PORT``."""
        return f"{socket.gethostname()}:{self.port}"


@pytest.fixture(scope="module")
def named_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    try:
        registry = NamedRegistry(
            tmp_path_factory.mktemp("named-registry"), free_port(), owns_data_dir=False
        )
        registry.start()
    except (ToolMissingError, RegistryStartError) as exc:
        pytest.fail(str(exc), pytrace=False)
    yield registry
    registry.close()


def resolve(reference: str, *options: str, **environment: str) -> CliResult:
    return run_cli(
        "resolve", reference, "--platform", "linux/amd64", *options, env=UNSET | environment
    )


def reached(result: CliResult, url: str) -> None:
    """The registry itself answered (an unknown tag): the request got there and back."""
    lines = result.stderr.strip().splitlines()
    assert result.code == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert f"GET {url}" in lines[0]
    assert "MANIFEST_UNKNOWN" in lines[0]


def test_plain_http_goes_through_the_proxy_and_no_proxy_goes_direct(
    tinyproxy: TinyProxy, named_registry: Registry
) -> None:
    reference = named_registry.ref("proxied", "v1")
    insecure = ("--insecure-registry", named_registry.host)
    url = f"http://{named_registry.host}/v2/proxied/manifests/v1"
    before = len(tinyproxy.requests())
    reached(resolve(reference, *insecure, HTTP_PROXY=tinyproxy.url), url)
    carried = tinyproxy.requests()[before:]
    assert f"GET {url}" in carried

    name = named_registry.host.split(":")[0]
    before = len(tinyproxy.requests())
    reached(resolve(reference, *insecure, http_proxy=tinyproxy.url, no_proxy=name), url)
    assert tinyproxy.requests()[before:] == []


def test_https_goes_through_a_connect_tunnel_and_is_still_verified(
    tinyproxy: TinyProxy, tls_registry: TlsRegistry
) -> None:
    reference = tls_registry.ref("proxied", "v1")
    before = len(tinyproxy.requests())
    untrusted = resolve(reference, HTTPS_PROXY=tinyproxy.url)
    assert untrusted.code == 1
    assert f"issued by CN={tls_registry.ca_name}" in untrusted.stderr
    trusted = resolve(reference, "--ca-file", str(tls_registry.ca_file), HTTPS_PROXY=tinyproxy.url)
    reached(trusted, f"https://{tls_registry.host}/v2/proxied/manifests/v1")
    carried = tinyproxy.requests()[before:]
    assert carried
    assert set(carried) == {f"CONNECT {tls_registry.host}"}


def test_a_loopback_registry_is_reached_directly(tinyproxy: TinyProxy, variants: Variants) -> None:
    before = len(tinyproxy.requests())
    result = resolve(
        variants.ref("v2.0.0-amd64"), HTTP_PROXY=tinyproxy.url, HTTPS_PROXY=tinyproxy.url
    )
    assert result.code == 0, result.stderr
    assert result.report["digest"] == variants.amd64
    assert tinyproxy.requests()[before:] == []


def test_a_proxy_that_cannot_be_reached_is_one_line_without_its_credentials(
    named_registry: Registry,
) -> None:
    closed = f"http://ci:pr0xy-s3cret@127.0.0.1:{free_port()}"
    result = resolve(
        named_registry.ref("proxied", "v1"),
        "--insecure-registry",
        named_registry.host,
        HTTP_PROXY=closed,
    )
    lines = result.stderr.strip().splitlines()
    assert result.code == 1, result.stderr
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert f"could not connect to the proxy 127.0.0.1:{closed.rsplit(':', 1)[1]}" in lines[0]
    assert "check the proxy that HTTPS_PROXY or HTTP_PROXY names" in lines[0]
    assert "pr0xy-s3cret" not in result.stderr + str(result.report)
    assert "Traceback" not in result.stderr


def test_a_proxy_whose_name_does_not_resolve_is_named_not_the_registry(
    named_registry: Registry,
) -> None:
    result = resolve(
        named_registry.ref("proxied", "v1"),
        "--insecure-registry",
        named_registry.host,
        HTTP_PROXY="http://ci:pr0xy-s3cret@proxy.invalid:3128",
    )
    lines = result.stderr.strip().splitlines()
    assert result.code == 1, result.stderr
    assert len(lines) == 1
    assert "could not connect to the proxy proxy.invalid:3128" in lines[0]
    assert "its name does not resolve" in lines[0]
    assert "check the proxy that HTTPS_PROXY or HTTP_PROXY names" in lines[0]
    assert f"the name {named_registry.host.split(':')[0]} does not resolve" not in lines[0]
    assert result.report["retries"] == 0, "a name that does not resolve is not tried again"
    assert "pr0xy-s3cret" not in result.stderr + str(result.report)


def test_an_https_registry_behind_an_unreachable_proxy_is_not_told_to_use_plain_http(
    tls_registry: TlsRegistry,
) -> None:
    result = resolve(
        tls_registry.ref("proxied", "v1"), HTTPS_PROXY=f"http://127.0.0.1:{free_port()}"
    )
    assert result.code == 1, result.stderr
    assert "could not connect to the proxy" in result.stderr
    assert "--insecure-registry" not in result.stderr
