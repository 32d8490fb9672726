"""The one exception type for requests the service refuses."""

from __future__ import annotations

from http import HTTPStatus


class ClientError(Exception):
    """A refused request: the status to answer and the message of the JSON error body."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        """Keep the status next to the message; the message is part of the contract."""
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ClientError:
    """Return a 400 with this message."""
    return ClientError(HTTPStatus.BAD_REQUEST, message)
