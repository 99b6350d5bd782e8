"""Tables for collections and the versioned STIX object store."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from kizuna.db.base import metadata

collections = Table(
    "collections",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=True),
    # TLP rank that decides access to unmarked objects (kizuna.access.tlp.Tlp).
    Column("default_tlp", SmallInteger, nullable=False),
    Column("public", Boolean, nullable=False, default=False),
    # The last date_added handed out, in microseconds: the next is strictly greater.
    Column("last_added_us", BigInteger, nullable=False, default=0),
    Column("created_us", BigInteger, nullable=False),
)

collection_grants = Table(
    "collection_grants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "collection_id",
        String(36),
        ForeignKey("collections.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # Exactly one of org_id / role is set: the grant names an org, or every token of a role.
    Column("org_id", Integer, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=True),
    Column("role", String(16), nullable=True),
    Column("can_read", Boolean, nullable=False),
    Column("can_write", Boolean, nullable=False),
    UniqueConstraint("collection_id", "org_id", "role"),
)

# One row per stored version of an object in a collection.
objects = Table(
    "objects",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column(
        "collection_id",
        String(36),
        ForeignKey("collections.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("stix_id", String(300), nullable=False),
    Column("stix_type", String(250), nullable=False),
    Column("spec_version", String(8), nullable=False),
    Column("version", String(40), nullable=False),
    Column("version_us", BigInteger, nullable=False),
    Column("date_added_us", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("owner_org_id", Integer, ForeignKey("orgs.id"), nullable=False),
    # Effective TLP rank from the object's own markings; NULL when unmarked.
    Column("tlp", SmallInteger, nullable=True),
    Column("pap", SmallInteger, nullable=True),
    Column("has_audience", Boolean, nullable=False),
    Column("has_refs", Boolean, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("is_first", Boolean, nullable=False),
    Column("is_last", Boolean, nullable=False),
    # The hunt index (kizuna.hunt.index.index_row), set on a version of a STIX-pattern
    # indicator a hunt could ever use: the pattern, valid_until, and the pattern's key (a
    # single string equality) or key plan (JSON; another pattern that does not correlate
    # across events), and which derivation made them. Another indicator has only
    # hunt_key_version, 0; every other row NULL throughout. A hunt
    # selects its indicators from these columns under the access rule on the same row,
    # without reading bodies. Pattern and key value are UTF-8 bytes: a STIX string may
    # hold U+0000, which a PostgreSQL text column cannot.
    Column("hunt_pattern", LargeBinary, nullable=True),
    Column("hunt_valid_until_us", BigInteger, nullable=True),
    Column("hunt_key_path", Text, nullable=True),
    Column("hunt_key_value", LargeBinary, nullable=True),
    Column("hunt_plan", Text, nullable=True),
    Column("hunt_key_version", SmallInteger, nullable=True),
    UniqueConstraint("collection_id", "date_added_us"),
    UniqueConstraint("collection_id", "stix_id", "version_us"),
)
Index("ix_objects_stix_id", objects.c.stix_id)

# The org identities that may read an AMBER/RED object (from its audience marking).
object_audience = Table(
    "object_audience",
    metadata,
    Column("object_pk", Integer, ForeignKey("objects.pk", ondelete="CASCADE"), nullable=False),
    Column("identity_id", String(64), nullable=False),
    UniqueConstraint("object_pk", "identity_id"),
)

# Objects a relationship or sighting points at: it is readable only when they are.
object_refs = Table(
    "object_refs",
    metadata,
    Column("object_pk", Integer, ForeignKey("objects.pk", ondelete="CASCADE"), nullable=False),
    Column("ref_id", String(300), nullable=False),
    UniqueConstraint("object_pk", "ref_id"),
)

# Node-wide: which org created a STIX id; only that org may add versions of it.
object_owners = Table(
    "object_owners",
    metadata,
    Column("stix_id", String(300), primary_key=True),
    Column("owner_org_id", Integer, ForeignKey("orgs.id"), nullable=False),
)

# Node-wide: what each known marking-definition means for access.
markings = Table(
    "markings",
    metadata,
    Column("stix_id", String(300), primary_key=True),
    Column("tlp", SmallInteger, nullable=True),
    Column("pap", SmallInteger, nullable=True),
    # JSON list of identity ids when the marking is a kizuna audience marking.
    Column("audience", Text, nullable=True),
    Column("content_hash", String(64), nullable=False),
)

# Hunts started over the REST API (kizuna.api.hunts): one row per job, visible to its org.
hunt_jobs = Table(
    "hunt_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_id", Integer, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("token_id", Integer, ForeignKey("tokens.id", ondelete="CASCADE"), nullable=False),
    # queued -> running -> done | failed
    Column("state", String(16), nullable=False),
    # host:pid of the server process that queued the job and runs it (in its own thread).
    Column("runner", String(300), nullable=True),
    # JSON: what was asked (file names, collections, since, engine, format, store_into).
    Column("request", Text, nullable=False),
    Column("files_total", Integer, nullable=False),
    Column("files_done", Integer, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("bad", BigInteger, nullable=False),
    Column("matching_events", BigInteger, nullable=False),
    # Why the job failed, for the client: a message, never a stack trace.
    Column("error", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("started_us", BigInteger, nullable=True),
    Column("finished_us", BigInteger, nullable=True),
    # JSON: match records and figures, written when the job is done.
    Column("result", Text, nullable=True),
)
Index("ix_hunt_jobs_org_id_created_us", hunt_jobs.c.org_id, hunt_jobs.c.created_us)
