"""How the Dagger functions reach registries: the core's settings from their arguments."""

from dataclasses import dataclass

import dagger
from pydantic import SecretStr

from metrics_api.oci.registry.auth import Credentials, auths_from_text
from metrics_api.oci.registry.session import Settings
from metrics_api.oci.registry.trust import trust_context
from metrics_api.oci.spec.reference import parse_reference
from metrics_api.pipeline_errors import PipelineError


@dataclass(frozen=True)
class RegistryAccess:
    """The access arguments every function that reads or writes a registry takes."""

    insecure_registries: list[str]
    username: str
    password: dagger.Secret | None
    docker_config: dagger.Secret | None
    ca_file: dagger.File | None
    deadline: float

    async def settings(self, target: str, *plain_http: str) -> Settings:
        """The core's settings for a call on ``target``; ``plain_http``: registries besides.

        ``--docker-config`` gives credentials per host; ``--username``/``--password`` are
        for the registry of ``target`` only, and win over the config there. The module's
        container has no Docker config of its own, and helpers cannot run in it.
        """
        credentials = {}
        if self.docker_config is not None:
            text = await revealed(self.docker_config, "--docker-config")
            credentials = auths_from_text(text, "--docker-config")
        if self.password is not None:
            host = parse_reference(target).host
            secret = SecretStr(await revealed(self.password, "--password"))
            credentials[host] = Credentials(
                username=self.username, password=secret, source="--password"
            )
        ca_certificates = await self.ca_file.contents() if self.ca_file is not None else ""
        if ca_certificates:  # checked before any request
            trust_context(ca_certificates, where="--ca-file")
        return Settings(
            insecure_registries=frozenset([*self.insecure_registries, *plain_http]),
            credentials=credentials,
            use_docker_config=False,
            deadline=self.deadline,
            ca_certificates=ca_certificates,
        )


async def revealed(secret: dagger.Secret, flag: str) -> str:
    """A secret's value; one that cannot be read (``env:`` of an unset variable) is one line."""
    try:
        return await secret.plaintext()
    except dagger.QueryError as error:
        msg = (
            f"reading {flag} failed: {error}; expected env:NAME of a variable set where "
            "`dagger` runs, file:PATH of a readable file, or cmd:COMMAND"
        )
        raise PipelineError(msg) from error
