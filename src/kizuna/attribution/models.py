"""Tables of the attribution domain: the node's signing keys and an index of publications.

Everything the co-authors must both see (drafts, approvals, published reports) lives in the
STIX store and federates; these tables hold only what is this node's own: its Ed25519 keys
(the private half sealed with the node secret) and the exact bytes of each bundle it
published, so the download serves what was signed, byte for byte.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text, UniqueConstraint

from kizuna.db.base import metadata

node_keys = Table(
    "node_keys",
    metadata,
    # RFC 7638 thumbprint of the public JWK: 43 base64url characters.
    Column("kid", String(64), primary_key=True),
    # The node's STIX identity (identity_class "system"), the same for every key it holds.
    Column("node_identity_id", String(64), nullable=False),
    Column("public_x", String(64), nullable=False),
    # kizuna.federation.secrets.seal(context="node-signing-key") of the raw private key.
    Column("private_sealed", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    # Set when rotated out: the key still verifies what it signed, but signs no more.
    Column("retired_us", BigInteger, nullable=True),
)

attribution_publications = Table(
    "attribution_publications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("draft_id", String(300), nullable=False, index=True),
    Column("report_id", String(300), nullable=False, index=True),
    # The published report's `modified`: one row per signed version.
    Column("version", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("collection_id", String(36), nullable=False),
    Column("bundle", Text, nullable=False),
    Column("published_us", BigInteger, nullable=False),
    UniqueConstraint("report_id", "version"),
)
