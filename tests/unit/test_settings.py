"""Where the API key and URL come from, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from vast_pulumi.errors import VastConfigError
from vast_pulumi.settings import DEFAULT_API_URL, ProviderSettings, check_config_keys


def test_explicit_values_win_over_environment(tmp_path: Path) -> None:
    env = {"VAST_API_KEY": "from-env", "VAST_URL": "https://env.example", "HOME": str(tmp_path)}
    settings = ProviderSettings.resolve("from-config", "https://config.example", env=env)
    assert (settings.api_key, settings.api_url) == ("from-config", "https://config.example")


def test_environment_is_used_when_config_is_absent(tmp_path: Path) -> None:
    env = {"VAST_API_KEY": "from-env", "VAST_URL": "https://env.example/", "HOME": str(tmp_path)}
    settings = ProviderSettings.resolve(env=env)
    assert (settings.api_key, settings.api_url) == ("from-env", "https://env.example")


def test_the_terraform_providers_names_are_read_after_ours(tmp_path: Path) -> None:
    theirs = {"VASTAI_API_KEY": "tf-key", "VASTAI_API_URL": "https://tf.example", "HOME": str(tmp_path)}
    settings = ProviderSettings.resolve(env=theirs)
    assert (settings.api_key, settings.api_url) == ("tf-key", "https://tf.example")
    ours = {**theirs, "VAST_API_KEY": "from-env", "VAST_URL": "https://env.example"}
    settings = ProviderSettings.resolve(env=ours)
    assert (settings.api_key, settings.api_url) == ("from-env", "https://env.example")


def test_the_terraform_key_name_wins_over_the_cli_key_file(tmp_path: Path) -> None:
    (tmp_path / ".vast_api_key").write_text("file-key\n")
    settings = ProviderSettings.resolve(env={"VASTAI_API_KEY": "tf-key", "HOME": str(tmp_path)})
    assert settings.api_key == "tf-key"


def test_cli_key_files_in_order_then_default_url(tmp_path: Path) -> None:
    (tmp_path / ".vast_api_key").write_text("legacy-key\n")
    env = {"HOME": str(tmp_path)}
    assert ProviderSettings.resolve(env=env).api_key == "legacy-key"
    xdg = tmp_path / "xdg" / "vastai"
    xdg.mkdir(parents=True)
    (xdg / "vast_api_key").write_text("  xdg-key \n")
    settings = ProviderSettings.resolve(env={**env, "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert (settings.api_key, settings.api_url) == ("xdg-key", DEFAULT_API_URL)


def test_missing_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VastConfigError, match=r"vast:apiKey.*VAST_API_KEY"):
        ProviderSettings.resolve(env={"HOME": str(tmp_path)})


@pytest.mark.parametrize("url", ["http://console.vast.ai", "http://10.0.0.5:8080"])
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(VastConfigError, match="refusing plain http"):
        ProviderSettings("key", url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:1234", "http://[::1]:80"])
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert ProviderSettings("key", url).api_url == url


def test_the_key_never_appears_in_repr() -> None:
    settings = ProviderSettings("very-secret-key", "https://console.vast.ai")
    assert "very-secret-key" not in repr(settings)
    assert "very-secret-key" not in str(settings)


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("vast:apiurl", "unknown config key vast:apiurl; did you mean 'vast:apiUrl'?"),
        ("vast:api_key", "unknown config key vast:api_key; did you mean 'vast:apiKey'?"),
        ("vast:region", "unknown config key vast:region; the keys are vast:apiKey and vast:apiUrl"),
    ],
)
def test_an_unknown_vast_config_key_is_refused_naming_the_closest(key: str, said: str) -> None:
    with pytest.raises(VastConfigError) as error:
        check_config_keys(["aws:region", "vast:apiKey", key])
    assert str(error.value) == f"{said} (remove it with `pulumi config rm {key}`)"


def test_known_and_other_namespaces_config_keys_pass() -> None:
    check_config_keys(["vast:apiKey", "vast:apiUrl", "aws:region", "myproject:apiurl"])


def test_each_value_names_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / ".vast_api_key").write_text("file-key\n")
    settings = ProviderSettings.resolve(env={"HOME": str(tmp_path), "VASTAI_API_URL": "https://tf.example"})
    assert settings.api_key_source == f"the vastai CLI's key file {tmp_path / '.vast_api_key'}"
    assert settings.api_url_source == "the environment variable VASTAI_API_URL"
    settings = ProviderSettings.resolve("k", None, env={"HOME": str(tmp_path)})
    assert (settings.api_key_source, settings.api_url_source) == (
        "the stack config vast:apiKey",
        "the default",
    )
