"""TAXII 2.1 endpoints (TAXII 2.1 sections 4 and 5), one API root per node.

HTTP only: each handler parses the request, asks the access and store modules, and
renders TAXII JSON. Envelopes are assembled from the stored JSON text of each object, so
a page of a thousand objects costs one query and one join of strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kizuna.access.subject import Subject
from kizuna.api.context import Node, node, subject
from kizuna.api.errors import HttpProblem
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from kizuna.stix.timestamps import format_timestamp, now_micros
from kizuna.store.collections import Collection, get_collection, list_collections
from kizuna.store.ingest import add_objects
from kizuna.store.query import Filters, Page, VersionMatch, delete_object, read_page
from kizuna.taxii import cursor
from kizuna.taxii.media import STIX_JSON, TAXII_JSON, accepts_taxii, is_taxii_content
from kizuna.taxii.params import parse_filters, parse_limit
from kizuna.taxii.status import get_status, record_status

API_ROOT = "kizuna"
ROOT = f"/taxii2/{API_ROOT}"


def require_accept(request: Request) -> None:
    if not accepts_taxii(request.headers.get("accept")):
        raise HttpProblem(406, "Not Acceptable", f"this server answers only in {TAXII_JSON}")


async def taxii_body(request: Request) -> bytes:
    """The request body, refused before it is read in full when it is too large."""
    if not is_taxii_content(request.headers.get("content-type")):
        raise HttpProblem(
            415, "Unsupported Media Type", f"send the envelope as Content-Type: {TAXII_JSON}"
        )
    limit = node(request).settings.max_content_length
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpProblem(413, "Payload Too Large", f"the body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpProblem(413, "Payload Too Large", f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


router = APIRouter(dependencies=[Depends(require_accept)])


def taxii(
    payload: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return Response(body, status_code=status, media_type=TAXII_JSON, headers=dict(headers or {}))


@contextmanager
def hidden_from_anonymous(who: Subject) -> Iterator[None]:
    """An anonymous requester learns only that it must authenticate."""
    try:
        yield
    except (NotFound, Forbidden):
        if who.anonymous:
            raise Unauthenticated("authentication is required for this resource") from None
        raise


def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# -- discovery and API root ------------------------------------------------------------------


@router.get("/taxii2/")
def discovery(
    request: Request, the_node: Node = Depends(node), _who: Subject = Depends(subject)
) -> Response:
    root_url = f"{_base(request)}{ROOT}/"
    return taxii(
        {
            "title": f"kizuna node {the_node.settings.node_name}",
            "description": "A sovereign kizuna node: STIX 2.1 over TAXII 2.1, under TLP 2.0.",
            "default": root_url,
            "api_roots": [root_url],
        }
    )


@router.get(f"{ROOT}/")
def api_root(the_node: Node = Depends(node), _who: Subject = Depends(subject)) -> Response:
    return taxii(
        {
            "title": f"kizuna {the_node.settings.node_name}",
            "description": "Threat intelligence shared under the Traffic Light Protocol 2.0.",
            "versions": [TAXII_JSON],
            "max_content_length": the_node.settings.max_content_length,
        }
    )


@router.get(f"{ROOT}/status/{{status_id}}/")
@router.get(f"{ROOT}/status/{{status_id}}", include_in_schema=False)
def status(
    status_id: str, the_node: Node = Depends(node), who: Subject = Depends(subject)
) -> Response:
    with hidden_from_anonymous(who), read_transaction(the_node.engine) as conn:
        if who.anonymous:
            raise NotFound("no such status")
        return taxii(get_status(conn, subject=who, status_id=status_id))


# -- collections -----------------------------------------------------------------------------


def _collection_resource(collection: Collection) -> dict[str, object]:
    resource: dict[str, object] = {
        "id": collection.id,
        "title": collection.title,
        "can_read": collection.can_read,
        "can_write": collection.can_write,
        "media_types": [STIX_JSON],
    }
    if collection.description:
        resource["description"] = collection.description
    return resource


@router.get(f"{ROOT}/collections/")
def collections(the_node: Node = Depends(node), who: Subject = Depends(subject)) -> Response:
    with read_transaction(the_node.engine) as conn:
        found = list_collections(conn, who)
    if not found:
        return taxii({})
    return taxii({"collections": [_collection_resource(c) for c in found]})


@router.get(f"{ROOT}/collections/{{collection_id}}/")
def collection(
    collection_id: str, the_node: Node = Depends(node), who: Subject = Depends(subject)
) -> Response:
    with hidden_from_anonymous(who), read_transaction(the_node.engine) as conn:
        return taxii(_collection_resource(get_collection(conn, who, collection_id)))


# -- objects ---------------------------------------------------------------------------------


def _paged(
    request: Request,
    the_node: Node,
    who: Subject,
    collection_id: str,
    *,
    endpoint: str,
    object_id: str | None,
    default_versions: VersionMatch,
    with_body: bool,
) -> tuple[Page, str | None]:
    params = _params(request)
    filters = parse_filters(params, default_versions=default_versions)
    if object_id is not None:
        filters = Filters(
            ids=(object_id,),
            types=(),
            versions=filters.versions,
            spec_versions=filters.spec_versions,
            added_after_us=filters.added_after_us,
        )
    limit = parse_limit(
        params,
        default=the_node.settings.default_page_size,
        maximum=the_node.settings.max_page_size,
    )
    query = cursor.fingerprint(endpoint, collection_id, object_id, repr(filters), who.org_id)
    next_values = params.get("next")
    after = cursor.decode(the_node.secret, next_values[-1], query=query) if next_values else None
    with hidden_from_anonymous(who), read_transaction(the_node.engine) as conn:
        found = get_collection(conn, who, collection_id)
        page = read_page(
            conn,
            subject=who,
            collection=found,
            filters=filters,
            after_us=after,
            limit=limit,
            with_body=with_body,
        )
    token = (
        cursor.encode(the_node.secret, after_us=page.rows[-1].date_added_us, query=query)
        if page.more
        else None
    )
    return page, token


def _date_headers(page: Page) -> dict[str, str]:
    if not page.rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": format_timestamp(page.rows[0].date_added_us),
        "X-TAXII-Date-Added-Last": format_timestamp(page.rows[-1].date_added_us),
    }


def _envelope(page: Page, token: str | None) -> bytes:
    if not page.rows:
        return b"{}"
    head = b'{"more":true,"next":' + orjson.dumps(token) if token else b'{"more":false'
    objects = ",".join(row.body for row in page.rows)
    return head + b',"objects":[' + objects.encode() + b"]}"


@router.get(f"{ROOT}/collections/{{collection_id}}/objects/")
def get_objects(
    collection_id: str,
    request: Request,
    the_node: Node = Depends(node),
    who: Subject = Depends(subject),
) -> Response:
    page, token = _paged(
        request,
        the_node,
        who,
        collection_id,
        endpoint="objects",
        object_id=None,
        default_versions=VersionMatch.latest(),
        with_body=True,
    )
    return taxii(_envelope(page, token), headers=_date_headers(page))


@router.post(f"{ROOT}/collections/{{collection_id}}/objects/")
def add_envelope(
    collection_id: str,
    body: bytes = Depends(taxii_body),
    the_node: Node = Depends(node),
    who: Subject = Depends(subject),
) -> Response:
    if who.anonymous:
        raise Unauthenticated("authentication is required to add objects")
    submitted = _envelope_objects(body)
    request_us = now_micros()
    with write_transaction(the_node.engine) as conn:
        target = get_collection(conn, who, collection_id)
        if not target.can_write:
            raise Forbidden("this token may not write to this collection")
        outcomes = add_objects(conn, subject=who, collection_id=target.id, submitted=submitted)
        resource = record_status(conn, subject=who, outcomes=outcomes, request_us=request_us)
    # The transaction has committed: every success in the status is now durable.
    return taxii(resource, status=202)


def _envelope_objects(body: bytes) -> Sequence[object]:
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise InvalidInput("the body must be a TAXII envelope: a JSON object with 'objects'")
    submitted = envelope.get("objects", [])
    if not isinstance(submitted, list):
        raise InvalidInput("the envelope's 'objects' must be a list of STIX objects")
    return submitted


@router.get(f"{ROOT}/collections/{{collection_id}}/objects/{{object_id}}/")
def get_object(
    collection_id: str,
    object_id: str,
    request: Request,
    the_node: Node = Depends(node),
    who: Subject = Depends(subject),
) -> Response:
    page, token = _paged(
        request,
        the_node,
        who,
        collection_id,
        endpoint="object",
        object_id=object_id,
        default_versions=VersionMatch.latest(),
        with_body=True,
    )
    if not page.rows and "next" not in request.query_params:
        raise NotFound(f"no object {object_id} in this collection")
    return taxii(_envelope(page, token), headers=_date_headers(page))


@router.delete(f"{ROOT}/collections/{{collection_id}}/objects/{{object_id}}/")
def remove_object(
    collection_id: str,
    object_id: str,
    request: Request,
    the_node: Node = Depends(node),
    who: Subject = Depends(subject),
) -> Response:
    filters = parse_filters(_params(request), default_versions=VersionMatch.every())
    with hidden_from_anonymous(who), write_transaction(the_node.engine) as conn:
        target = get_collection(conn, who, collection_id)
        delete_object(conn, subject=who, collection=target, stix_id=object_id, filters=filters)
    return Response(status_code=200, media_type=TAXII_JSON)


@router.get(f"{ROOT}/collections/{{collection_id}}/objects/{{object_id}}/versions/")
def versions(
    collection_id: str,
    object_id: str,
    request: Request,
    the_node: Node = Depends(node),
    who: Subject = Depends(subject),
) -> Response:
    page, token = _paged(
        request,
        the_node,
        who,
        collection_id,
        endpoint="versions",
        object_id=object_id,
        default_versions=VersionMatch.every(),
        with_body=False,
    )
    if not page.rows and "next" not in request.query_params:
        raise NotFound(f"no object {object_id} in this collection")
    resource: dict[str, object] = {"more": token is not None}
    if token:
        resource["next"] = token
    resource["versions"] = [row.version for row in page.rows]
    return taxii(resource, headers=_date_headers(page))


@router.get(f"{ROOT}/collections/{{collection_id}}/manifest/")
def manifest(
    collection_id: str,
    request: Request,
    the_node: Node = Depends(node),
    who: Subject = Depends(subject),
) -> Response:
    page, token = _paged(
        request,
        the_node,
        who,
        collection_id,
        endpoint="manifest",
        object_id=None,
        default_versions=VersionMatch.latest(),
        with_body=False,
    )
    if not page.rows:
        return taxii({}, headers=_date_headers(page))
    resource: dict[str, object] = {"more": token is not None}
    if token:
        resource["next"] = token
    resource["objects"] = [
        {
            "id": row.stix_id,
            "date_added": format_timestamp(row.date_added_us),
            "version": row.version,
            "media_type": f"application/stix+json;version={row.spec_version}",
        }
        for row in page.rows
    ]
    return taxii(resource, headers=_date_headers(page))
