"""Putting the transport under boto3: per session, or for every client created while
simsage is active.

- :func:`boto3_session` returns a ``boto3.Session`` whose clients simsage answers when
  the backend is ``local``, and a plain session when it is ``aws``.
- :func:`activate` / :func:`deactivate` / :func:`local` patch botocore so that every
  client created while active (from any session, including ``boto3.client`` and the
  official SageMaker SDK) is answered by simsage. Clients keep their binding for life.
  With the ``aws`` backend, activation does nothing: the same code talks to AWS.

While active, a session with no region configured gets simsage's region, and
credentials are simsage's fixed local ones (no credential chain, no metadata service).

Clients that do not go through boto3 in this process (pandas ``s3://`` and s3fs over
aiobotocore, pyarrow, the AWS CLI or any program in a subprocess) reach the same store
over HTTP: while active, the environment names the home's S3 endpoint
(``AWS_ENDPOINT_URL_S3``, the standard setting botocore, aiobotocore, the AWS CLI and
pyarrow read) and simsage's local credentials and region (:data:`ENDPOINT_ENVIRONMENT`).
The endpoint itself starts only when something first connects to it
(:mod:`simsage.transport.endpoint_use`), is shared by every process using the home, and
stops when its last user deactivates. :func:`deactivate` puts the environment back as
it was, variable by variable. A home that cannot hold the endpoint's record (read-only)
is activated without the endpoint: a warning says so, and the environment is untouched.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import botocore.session
from botocore.credentials import Credentials

from simsage.config import Config, load_config
from simsage.transport.handler import Transport, make_local
from simsage.transport.local_keys import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY  # also from here

_lock = threading.RLock()
_stack: list[Transport] = []
# Per activation on the stack: the environment variables it replaced (None: was unset).
_saved_environment: list[dict[str, str | None]] = []
_originals: dict[str, object] = {}
# Credentials a caller's environment may carry that must not reach the local endpoint.
_REMOVED = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def boto3_session(**kwargs) -> boto3.Session:
    """A ``boto3.Session`` for the configured backend.

    Args:
        **kwargs: passed to ``boto3.Session`` (region_name, profile_name, …).
    Returns:
        With the ``local`` backend, a session whose clients simsage answers (region
        defaults to simsage's; credentials are not needed). With ``aws``, a plain session.
    """
    config = load_config()
    if not config.is_local:
        return boto3.Session(**kwargs)
    kwargs = dict(kwargs)
    kwargs.setdefault("region_name", config.region)
    if kwargs.get("aws_access_key_id") is None:
        kwargs["aws_access_key_id"] = LOCAL_ACCESS_KEY
        kwargs["aws_secret_access_key"] = LOCAL_SECRET_KEY
    session = boto3.Session(**kwargs)
    Transport(config).install(session._session.get_component("event_emitter"))
    return session


def activate(config: Config | None = None, **overrides) -> Transport | None:
    """Answer every boto3 client created from now on with simsage.

    Args:
        config: settings to use (default: :func:`simsage.config.load_config`).
        **overrides: settings to replace, e.g. ``home=tmp_path``.
    Returns:
        The active transport, or None when the backend is ``aws`` (nothing changes).
    """
    config = (config or load_config()).with_overrides(**overrides)
    if not config.is_local:
        return None
    transport = Transport(config)
    with _lock:
        if not _stack:
            _patch()
        _saved_environment.append(_point_environment(config))
        _stack.append(transport)
    return transport


def deactivate() -> None:
    """Undo the latest :func:`activate`; the previous activation (if any) applies again."""
    with _lock:
        if _stack:
            transport = _stack.pop()
            _set_environment(_saved_environment.pop())
            from simsage.transport import endpoint_use

            endpoint_use.release(transport.config.home)
        if not _stack:
            _unpatch()


def endpoint_environment(config: Config, url: str) -> dict[str, str]:
    """What non-boto3 clients need to reach the S3 endpoint at ``url``: the standard
    variables, as :func:`activate` sets them (region only where unset)."""
    values = {
        "AWS_ENDPOINT_URL_S3": url,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
    }
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if not os.environ.get(name):
            values[name] = config.region
    return values


def _point_environment(config: Config) -> dict[str, str | None]:
    """Use the home's endpoint and point the environment at it; returns what it replaced
    (nothing when the home can have no endpoint: :func:`endpoint_use.use` logged why)."""
    from simsage.transport import endpoint_use

    url = endpoint_use.use(config.home)
    if url is None:
        return {}
    changes: dict[str, str | None] = dict(endpoint_environment(config, url))
    changes.update(dict.fromkeys(_REMOVED))
    saved = {name: os.environ.get(name) for name in changes}
    _set_environment(changes)
    return saved


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def active_transport() -> Transport | None:
    return _stack[-1] if _stack else None


@contextmanager
def local(config: Config | None = None, **overrides) -> Iterator[Transport | None]:
    """``with simsage.local(): ...`` activates simsage for the block."""
    transport = activate(config, **overrides)
    try:
        yield transport
    finally:
        if transport is not None:
            deactivate()


def _patch() -> None:
    cls = botocore.session.Session
    create_client = cls.create_client
    get_config_variable = cls.get_config_variable
    _originals.update(
        create_client=create_client,
        get_config_variable=get_config_variable,
        get_credentials=cls.get_credentials,
    )

    def patched_create_client(self, *args, **kwargs):
        client = create_client(self, *args, **kwargs)
        transport = active_transport()
        if transport is not None:
            transport.install(client.meta.events)
            make_local(client)
        return client

    def patched_get_config_variable(self, logical_name, *args, **kwargs):
        value = get_config_variable(self, logical_name, *args, **kwargs)
        if value is None and logical_name == "region":
            transport = active_transport()
            if transport is not None:
                return transport.config.region
        return value

    def patched_get_credentials(self):
        return Credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)

    cls.create_client = patched_create_client
    cls.get_config_variable = patched_get_config_variable
    cls.get_credentials = patched_get_credentials


def _unpatch() -> None:
    cls = botocore.session.Session
    for name, original in _originals.items():
        setattr(cls, name, original)
    _originals.clear()
