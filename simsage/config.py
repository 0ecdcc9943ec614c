"""Configuration: which backend answers boto3, where the embedded store lives, which
region and account simsage pretends to be.

Precedence for every setting: environment variable, then the config file
(``$SIMSAGE_HOME/config.toml``), then the default. ``SIMSAGE_HOME`` itself comes from
the environment or defaults to ``~/.simsage``.

Config file example::

    backend = "local"        # or "aws"
    region = "eu-west-1"
    account_id = "123456789012"
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

BACKENDS = ("local", "aws")
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
CONFIG_FILE_NAME = "config.toml"

_ENV = {
    "backend": "SIMSAGE_BACKEND",
    "region": "SIMSAGE_REGION",
    "account_id": "SIMSAGE_ACCOUNT_ID",
}
_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")


class ConfigError(ValueError):
    """A setting has a value simsage cannot use; the message names the setting and its source."""


@dataclass(frozen=True)
class Config:
    """The resolved settings. Build one with :func:`load_config`."""

    backend: str
    home: Path
    region: str
    account_id: str

    @property
    def is_local(self) -> bool:
        return self.backend == "local"

    def with_overrides(self, **overrides: object) -> Config:
        """A copy with some settings replaced (``None`` values are ignored), validated."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        if "home" in changes:
            changes["home"] = Path(changes["home"]).expanduser().resolve()
        updated = replace(self, **changes)
        _validate(updated, source="override")
        return updated


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$SIMSAGE_HOME`` if set, else ``~/.simsage``."""
    environ = os.environ if environ is None else environ
    raw = environ.get("SIMSAGE_HOME")
    return Path(raw).expanduser().resolve() if raw else Path.home() / ".simsage"


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Resolve the settings: environment beats the config file beats the defaults.

    Raises:
        ConfigError: a setting is invalid or the config file cannot be parsed.
    """
    environ = os.environ if environ is None else environ
    home = default_home(environ)
    from_file = _read_file(home / CONFIG_FILE_NAME)
    values = {"backend": "local", "region": DEFAULT_REGION, "account_id": DEFAULT_ACCOUNT_ID}
    sources = dict.fromkeys(values, "default")
    for name in values:
        if name in from_file:
            values[name], sources[name] = str(from_file[name]), str(home / CONFIG_FILE_NAME)
        if environ.get(_ENV[name]):
            values[name], sources[name] = environ[_ENV[name]], _ENV[name]
    config = Config(home=home, **values)
    for name, source in sources.items():
        _validate(config, source=source, only=name)
    return config


def _read_file(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    unknown = sorted(set(data) - set(_ENV))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {unknown}; known: {sorted(_ENV)}")
    return data


def _validate(config: Config, source: str, only: str | None = None) -> None:
    checks = {
        "backend": (config.backend in BACKENDS, f"must be one of {', '.join(BACKENDS)}"),
        "region": (bool(_REGION_RE.match(config.region)), "must look like us-east-1"),
        "account_id": (bool(_ACCOUNT_RE.match(config.account_id)), "must be 12 digits"),
    }
    for name, (ok, expected) in checks.items():
        if (only is None or only == name) and not ok:
            value = getattr(config, name)
            raise ConfigError(f"{name}={value!r} (from {source}) {expected}")
