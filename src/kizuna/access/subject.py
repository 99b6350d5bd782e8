"""Who is asking: an org acting through a token with one role, or nobody (anonymous)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    READER = "reader"
    ANALYST = "analyst"
    ADMIN = "admin"
    PEER = "peer"

    @property
    def may_write(self) -> bool:
        return self is not Role.READER


@dataclass(frozen=True, slots=True)
class Subject:
    org_id: int | None
    identity_id: str | None
    role: Role | None
    #: The org stands for another node (a peer) rather than a member of this one.
    remote: bool = False
    token_id: int | None = None

    @property
    def anonymous(self) -> bool:
        return self.org_id is None

    @property
    def external(self) -> bool:
        """Reads by this subject leave the node: RED and unmarked objects never do."""
        return self.org_id is None or self.role is Role.PEER or self.remote


ANONYMOUS = Subject(org_id=None, identity_id=None, role=None)
