"""Any setting may come from a file named by ``<NAME>_FILE`` (Docker and systemd secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_int, env_str


def test_a_setting_is_read_from_the_file_its_file_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("from-a-file\n")  # editors and `echo` leave a newline: it is not part of the key
    monkeypatch.delenv("DLMON_TEST_KEY", raising=False)
    monkeypatch.setenv("DLMON_TEST_KEY_FILE", str(secret))
    assert env_str("DLMON_TEST_KEY", "default") == "from-a-file"


def test_an_empty_variable_beside_its_file_variable_counts_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("from-a-file")
    monkeypatch.setenv("DLMON_TEST_KEY", "")  # docker-compose's ${SECRET_KEY:-} when only the file is given
    monkeypatch.setenv("DLMON_TEST_KEY_FILE", str(secret))
    assert env_str("DLMON_TEST_KEY", "default") == "from-a-file"


def test_a_value_read_from_a_file_is_checked_like_one_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = tmp_path / "number"
    number.write_text("twelve")
    monkeypatch.setenv("DLMON_TEST_NUMBER_FILE", str(number))
    with pytest.raises(ImproperlyConfigured, match="DLMON_TEST_NUMBER='twelve' is not a whole number"):
        env_int("DLMON_TEST_NUMBER", 1)


def test_a_setting_given_both_directly_and_as_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("from-a-file")
    monkeypatch.setenv("DLMON_TEST_KEY", "from-the-environment")
    monkeypatch.setenv("DLMON_TEST_KEY_FILE", str(secret))
    with pytest.raises(ImproperlyConfigured, match="DLMON_TEST_KEY and DLMON_TEST_KEY_FILE are both set"):
        env_str("DLMON_TEST_KEY", "default")


def test_an_unreadable_secret_file_stops_start_up_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DLMON_TEST_KEY", raising=False)
    monkeypatch.setenv("DLMON_TEST_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match=r"DLMON_TEST_KEY_FILE=.* cannot be read"):
        env_str("DLMON_TEST_KEY", "default")
