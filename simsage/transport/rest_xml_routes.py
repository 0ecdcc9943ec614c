"""Which operation an S3 REST request names, read from botocore's service model.

Each operation's ``http.method`` and ``http.requestUri`` (``/{Bucket}/{Key+}?uploads``)
become a :class:`Route`: a path pattern, the literal query keys of the requestUri, and the
discriminators the model marks as required (querystring members such as ``uploadId``,
header members such as ``x-amz-copy-source``). A request matches a route when the method
and path match and every discriminator is present; among matches the one with the most
discriminators wins (``UploadPartCopy`` over ``UploadPart`` over ``PutObject``).

``x-id`` (botocore's disambiguator, ``?x-id=GetObject``) is never needed to match: clients
other than botocore (the AWS C++ SDK behind pyarrow, DuckDB, curl) do not send it. When it
is present it only breaks a tie.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.model import OperationModel, ServiceModel

from simsage.errors import AWSError

X_ID = "x-id"
_LABEL = re.compile(r"\{([^}]+)\}")


class CodecError(AWSError):
    """A request the wire format refuses, with S3's code, message and status.

    ``error_fields`` are the extra elements of S3's ``<Error>`` body (``ArgumentName`` …).
    """

    def __init__(self, code: str, message: str, status: int = 400, **error_fields: str) -> None:
        super().__init__(message, error_fields=error_fields)
        self.code, self.status, self.sender_fault = code, status, status < 500


def method_not_allowed(method: str, resource_type: str) -> CodecError:
    """S3's answer to a method no operation serves on the addressed resource
    (``resource_type`` is ``OBJECT``, ``BUCKET`` or ``SERVICE``)."""
    return CodecError(
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        405,
        Method=method,
        ResourceType=resource_type,
    )


def not_implemented() -> CodecError:
    """S3's answer to a request naming functionality it does not implement."""
    return CodecError(
        "NotImplemented",
        "A header you provided implies functionality that is not implemented",
        501,
    )


@dataclass(frozen=True)
class Route:
    """How one operation is recognized on the wire.

    ``pattern`` matches the request path rebuilt from the decoded bucket and key
    (``/`` + bucket + ``/`` + key); its groups are named ``g0``, ``g1`` … and ``labels``
    maps each group to the uri member it fills. ``literal_query`` holds the requestUri's
    own query keys with their required value (``list-type=2``) or None (``?uploads``).
    """

    op: OperationModel
    method: str
    pattern: re.Pattern[str]
    labels: dict[str, str]
    literal_query: tuple[tuple[str, str | None], ...]
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]

    @property
    def specificity(self) -> int:
        return len(self.literal_query) + len(self.required_query) + len(self.required_headers)

    def path_values(self, path: str) -> dict[str, str] | None:
        """The uri members' values for ``path``, or None if the path does not match."""
        match = self.pattern.fullmatch(path)
        if match is None:
            return None
        return {self.labels[group]: value for group, value in match.groupdict().items()}

    def accepts(self, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        for name, value in self.literal_query:
            if name not in query or (value is not None and value not in query[name]):
                return False
        return all(q in query for q in self.required_query) and all(
            h in headers for h in self.required_headers
        )


def _compile_path(template: str, op: OperationModel) -> tuple[re.Pattern[str], dict[str, str]]:
    """A regex for a requestUri path: ``{X+}`` is greedy and keeps ``/``, ``{X}`` is one
    segment. Labels name uri members by their wire name (``locationName``)."""
    by_wire_name = {}
    if op.input_shape is not None:
        for name, member in op.input_shape.members.items():
            if member.serialization.get("location") == "uri":
                by_wire_name[member.serialization.get("name", name)] = name
    parts, labels, pos = [], {}, 0
    for i, label in enumerate(_LABEL.finditer(template)):
        parts.append(re.escape(template[pos : label.start()]))
        wire = label.group(1)
        greedy = wire.endswith("+")
        wire = wire.rstrip("+")
        group = f"g{i}"
        labels[group] = by_wire_name.get(wire, wire)
        parts.append(f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)")
        pos = label.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts), re.DOTALL), labels


def build_route(op: OperationModel) -> Route:
    """The route of one operation, from its http trait and its input shape."""
    template, _, literal = op.http["requestUri"].partition("?")
    pattern, labels = _compile_path(template, op)
    literal_query = []
    for item in filter(None, literal.split("&")):
        name, eq, value = item.partition("=")
        if name != X_ID:
            literal_query.append((name, value if eq else None))
    required_query, required_headers = [], []
    shape = op.input_shape
    if shape is not None:
        for name in shape.required_members:
            member = shape.members[name]
            wire = member.serialization.get("name", name)
            location = member.serialization.get("location")
            if location == "querystring":
                required_query.append(wire)
            elif location == "header":
                required_headers.append(wire.lower())
    return Route(
        op=op,
        method=op.http["method"],
        pattern=pattern,
        labels=labels,
        literal_query=tuple(literal_query),
        required_query=tuple(required_query),
        required_headers=tuple(required_headers),
    )


# S3 quirk: ListDirectoryBuckets shares ``GET /`` with ListBuckets but is answered only by
# the s3express-control endpoint; a bucket endpoint's ``GET /`` is ListBuckets.
_OTHER_ENDPOINT = frozenset({"ListDirectoryBuckets"})


def _tie_rank(op: OperationModel) -> int:
    """On the same discriminators, prefer current operations over deprecated ones
    (GetBucketLifecycle vs GetBucketLifecycleConfiguration share ``?lifecycle``) and
    this endpoint's operations over another endpoint's."""
    return (op.name in _OTHER_ENDPOINT) * 2 + bool(op.deprecated)


class Router:
    """All of a service's routes, tried most specific first."""

    def __init__(self, service_model: ServiceModel) -> None:
        self.routes = [
            build_route(service_model.operation_model(name))
            for name in service_model.operation_names
        ]
        self.routes.sort(key=lambda r: (-r.specificity, _tie_rank(r.op)))
        self._by_name = {r.op.name: r for r in self.routes}
        # The hot path: S3's ~110 operations share four path templates, so each template's
        # regex is tried once per request and only its routes of the request's method are
        # looked at (in the same most-specific-first order).
        self._rank = {r.op.name: i for i, r in enumerate(self.routes)}
        self._templates: dict[str, tuple[re.Pattern[str], dict[str, list[Route]]]] = {}
        for route in self.routes:
            pattern, by_method = self._templates.setdefault(
                route.pattern.pattern, (route.pattern, {})
            )
            by_method.setdefault(route.method, []).append(route)
        # What a route's ``accepts`` reads of a request besides the query's names: the
        # values of the literal query keys that must have a value (``list-type=2``) and
        # the presence of the required headers. With the method, the templates the path
        # matched and x-id they decide the route, which is remembered (:meth:`find`).
        self._valued = frozenset(
            name for r in self.routes for name, value in r.literal_query if value is not None
        )
        self._headers = frozenset(h for r in self.routes for h in r.required_headers)
        self._found: dict[tuple, Route] = {}

    def route_of(self, op: OperationModel) -> Route:
        return self._by_name[op.name]

    def find(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        resource_type: str = "OBJECT",
    ) -> Route:
        """The most specific route for the request; raises :class:`CodecError`
        (MethodNotAllowed) when the path is served but not with this method."""
        named = (query.get(X_ID) or [None])[0]
        candidates: list[Route] = []
        matched = 0
        templates = []
        for i, (pattern, by_method) in enumerate(self._templates.values()):
            if pattern.fullmatch(path) is not None:
                matched += 1
                templates.append(i)
                candidates.extend(by_method.get(method, ()))
        valued = self._valued.intersection(query)
        key = (
            method,
            tuple(templates),
            named,
            frozenset(query),
            tuple((name, tuple(query[name])) for name in sorted(valued)) if valued else (),
            frozenset(h for h in self._headers if h in headers),
        )
        found = self._found.get(key)
        if found is not None:
            return found
        found = self._pick(method, candidates, matched, named, query, headers, resource_type)
        if len(self._found) >= 1024:
            self._found.clear()
        self._found[key] = found
        return found

    def _pick(self, method, candidates, matched, named, query, headers, resource_type) -> Route:
        path_matched = matched > 0
        if matched > 1:  # /WriteGetObjectResponse is also a /{Bucket}
            candidates.sort(key=lambda r: self._rank[r.op.name])
        best: Route | None = None
        for route in candidates:
            if not route.accepts(query, headers):
                continue
            if best is None:
                best = route
                if named is None:
                    break
            elif route.specificity < best.specificity:
                break
            if route.op.name == named:
                return route
        if best is not None:
            return best
        if path_matched:
            raise method_not_allowed(method, resource_type)
        raise not_implemented()
