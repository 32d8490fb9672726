import pytest

from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.session import Settings
from metrics_api.oci.registry.transport import RetryPolicy

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("registry.iximiuz.com", "https://registry.iximiuz.com/v2/"),
        ("10.0.0.5:5000", "https://10.0.0.5:5000/v2/"),
        ("127.0.0.1:5000", "http://127.0.0.1:5000/v2/"),
        ("localhost:5000", "http://localhost:5000/v2/"),
        ("[::1]:5000", "http://[::1]:5000/v2/"),
        ("registry.internal:5000", "http://registry.internal:5000/v2/"),
    ],
)
def test_plain_http_only_for_loopback_or_named_insecure(host: str, url: str) -> None:
    client = RegistryClient(insecure_registries=frozenset({"registry.internal:5000"}))
    assert client.base_url(host) == url


def test_backoff_is_bounded_and_honours_retry_after() -> None:
    policy = RetryPolicy(attempts=5, base_delay=0.2, max_delay=1.0, max_retry_after=30.0)
    assert [policy.delay(attempt, None) for attempt in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert policy.delay(0, "3") == 3.0
    assert policy.delay(0, "600") == 30.0
    assert policy.delay(2, "Wed, 21 Oct 2026 07:28:00 GMT") == 0.8


def test_with_the_defaults_a_registry_that_never_answers_fails_within_a_minute() -> None:
    policy, timeout = Settings().retry, Settings().request_timeout
    backoff = sum(policy.delay(attempt, None) for attempt in range(policy.timeout_attempts - 1))
    assert policy.timeout_attempts * timeout + backoff <= 60.5
