"""Per-request context: the node (engine, settings, secret) and the authenticated subject."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from kizuna.access.service import authenticate
from kizuna.access.subject import ANONYMOUS, Subject
from kizuna.config import Settings
from kizuna.db.engine import read_transaction
from kizuna.errors import Unauthenticated


@dataclass(frozen=True)
class Node:
    settings: Settings
    engine: Engine
    secret: bytes


def node(request: Request) -> Node:
    found = request.app.state.node
    assert isinstance(found, Node)
    return found


def _credential(header: str) -> str:
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("the Basic credentials are not valid base64") from None
        # Stock TAXII clients send user:password; the token is the password.
        _user, sep, password = decoded.partition(":")
        if sep and password:
            return password
    raise Unauthenticated(
        "use 'Authorization: Bearer <token>' or HTTP Basic with the token as password"
    )


def subject(request: Request) -> Subject:
    """Who is asking. No Authorization header means anonymous; a bad one is always 401."""
    header = request.headers.get("authorization")
    if header is None:
        return ANONYMOUS
    secret = _credential(header)
    with read_transaction(node(request).engine) as conn:
        return authenticate(conn, secret)
