"""Config precedence: environment beats the config file beats the defaults."""

from pathlib import Path

import pytest

from simsage.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, ConfigError, load_config


def test_defaults(tmp_path: Path):
    config = load_config({"SIMSAGE_HOME": str(tmp_path)})
    assert (config.backend, config.region, config.account_id) == (
        "local",
        DEFAULT_REGION,
        DEFAULT_ACCOUNT_ID,
    )
    assert config.home == tmp_path.resolve()
    assert config.is_local


def test_home_defaults_to_dot_simsage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_config({}).home == tmp_path / ".simsage"


def test_file_beats_default_and_env_beats_file(tmp_path: Path):
    (tmp_path / "config.toml").write_text(
        'backend = "aws"\nregion = "eu-west-1"\naccount_id = "111122223333"\n'
    )
    from_file = load_config({"SIMSAGE_HOME": str(tmp_path)})
    assert (from_file.backend, from_file.region, from_file.account_id) == (
        "aws",
        "eu-west-1",
        "111122223333",
    )
    env = {
        "SIMSAGE_HOME": str(tmp_path),
        "SIMSAGE_BACKEND": "local",
        "SIMSAGE_REGION": "ap-south-1",
    }
    from_env = load_config(env)
    assert (from_env.backend, from_env.region, from_env.account_id) == (
        "local",
        "ap-south-1",
        "111122223333",
    )


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("SIMSAGE_BACKEND", "docker", "backend='docker' (from SIMSAGE_BACKEND) must be one of"),
        ("SIMSAGE_REGION", "moon-1", "region='moon-1'"),
        ("SIMSAGE_ACCOUNT_ID", "12", "must be 12 digits"),
    ],
)
def test_invalid_values_name_the_setting_and_source(tmp_path, name, value, fragment):
    with pytest.raises(ConfigError, match="must") as info:
        load_config({"SIMSAGE_HOME": str(tmp_path), name: value})
    assert fragment in str(info.value)


def test_bad_config_file_is_reported(tmp_path: Path):
    (tmp_path / "config.toml").write_text("backend = \n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config({"SIMSAGE_HOME": str(tmp_path)})
    (tmp_path / "config.toml").write_text('colour = "blue"\n')
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config({"SIMSAGE_HOME": str(tmp_path)})


def test_overrides(tmp_path: Path):
    config = load_config({"SIMSAGE_HOME": str(tmp_path)})
    moved = config.with_overrides(home=tmp_path / "other", region="eu-central-1", backend=None)
    assert moved.home == (tmp_path / "other").resolve()
    assert moved.region == "eu-central-1"
    assert moved.backend == "local"
    with pytest.raises(ConfigError):
        config.with_overrides(backend="cloud")
