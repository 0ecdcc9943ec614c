"""NextToken for the SageMaker List* calls: an opaque token naming the next position."""

from __future__ import annotations

import base64
import binascii

from simsage.errors import ValidationException


def make_token(position: int) -> str:
    return base64.urlsafe_b64encode(f"simsage:{position}".encode()).decode()


def read_token(token: str | None) -> int:
    """The position a token names (0 for none).

    Raises:
        ValidationException: a token simsage did not make.
    """
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)[1])
    except (binascii.Error, ValueError, IndexError, UnicodeDecodeError):
        raise ValidationException(f"Invalid pagination token: {token}") from None
