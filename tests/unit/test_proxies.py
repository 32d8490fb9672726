"""The proxies the command line reads from the environment, as Go programs read them."""

import httpx
import pytest

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.registry.proxies import Proxies

pytestmark = pytest.mark.unit


def proxy_of(url: str, **environment: str) -> str | None:
    return Proxies.from_environment(environment).for_url(httpx.URL(url))


def test_each_scheme_has_its_proxy_and_all_proxy_stands_in() -> None:
    both = {"HTTP_PROXY": "http://p:1", "https_proxy": "p2:2"}
    assert proxy_of("http://r.example/v2/", **both) == "http://p:1"
    assert proxy_of("https://r.example/v2/", **both) == "http://p2:2"  # no scheme: http://
    assert proxy_of("https://r.example/v2/", ALL_PROXY="http://all:3") == "http://all:3"
    assert proxy_of("https://r.example/v2/") is None


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.1.2.3", "[::1]"])
def test_a_loopback_registry_is_never_proxied(host: str) -> None:
    assert proxy_of(f"http://{host}:5000/v2/", HTTP_PROXY="http://p:1") is None


@pytest.mark.parametrize(
    ("url", "no_proxy", "direct"),
    [
        ("https://r.example/v2/", "r.example", True),
        ("https://a.r.example/v2/", "r.example", True),
        ("https://a.r.example/v2/", ".r.example", True),
        ("https://notr.example/v2/", "r.example", False),
        ("https://r.example:5000/v2/", "r.example:5000", True),
        ("https://r.example:5001/v2/", "r.example:5000", False),
        ("https://r.example/v2/", "r.example:443", True),
        ("https://10.1.2.3/v2/", "10.0.0.0/8", True),
        ("https://192.168.1.1/v2/", "10.0.0.0/8", False),
        ("https://[fd00::1]:5000/v2/", "[fd00::1]:5000", True),
        ("https://[fd00::1]/v2/", "fd00::1", True),
        ("https://r.example/v2/", " other.example , * ", True),
    ],
)
def test_no_proxy_names_hosts_domains_ports_and_networks(
    url: str, no_proxy: str, direct: bool
) -> None:
    proxy = proxy_of(url, HTTPS_PROXY="http://p:1", NO_PROXY=no_proxy)
    assert proxy == (None if direct else "http://p:1")


@pytest.mark.parametrize("value", ["socks5://user:s3cret@p:1080", "http://user:s3cret@"])
def test_a_proxy_that_cannot_serve_is_refused_without_its_credentials(value: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        Proxies.from_environment({"https_proxy": value})
    assert str(refused.value).startswith("expected $https_proxy to be an http or https proxy URL")
    assert "s3cret" not in str(refused.value)
