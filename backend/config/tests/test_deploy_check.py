"""`manage.py check --deploy` is clean with the production settings documented in
docs/configuration.md (issue 13, must-hold 2); this project's own check warns when /metrics has no
token; the proxy and HSTS settings refuse bad values with a message naming them."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

BACKEND = Path(__file__).resolve().parents[2]
DOC = BACKEND.parent / "docs" / "configuration.md"


def documented_production_environment() -> dict[str, str]:
    """The block under "## Production settings", its <placeholders> filled with fresh secrets."""
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"^## Production settings\n.*?^```sh\n(.*?)^```", text, re.M | re.S)
    assert block is not None, "docs/configuration.md lost its production settings block"
    env: dict[str, str] = {}
    for line in block.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        if name == "FIELD_ENCRYPTION_KEYS":
            value = Fernet.generate_key().decode()
        env[name] = re.sub(r"<[^>]+>", lambda _: secrets.token_urlsafe(50), value)
    return env


def _check(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "MQTT_SPOOL_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BACKEND,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path: Path) -> None:
    env = documented_production_environment()
    assert env["DEBUG"] == "false"

    result = _check(tmp_path, env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_warns_when_the_metrics_token_is_unset(tmp_path: Path) -> None:
    env = documented_production_environment()
    del env["METRICS_TOKEN"]

    result = _check(tmp_path, env)

    assert result.returncode == 1
    assert "dlmon.W001" in result.stderr
    assert "METRICS_TOKEN is not set" in result.stderr


def test_a_malformed_proxy_ssl_header_stops_start_up_with_an_example(tmp_path: Path) -> None:
    env = {**documented_production_environment(), "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}

    result = _check(tmp_path, env)

    assert result.returncode == 1
    assert "SECURE_PROXY_SSL_HEADER is not a valid proxy SSL header" in result.stderr
    assert "HTTP_X_FORWARDED_PROTO,https" in result.stderr


def test_hsts_preload_without_subdomains_is_refused(tmp_path: Path) -> None:
    env = {**documented_production_environment(), "SECURE_HSTS_INCLUDE_SUBDOMAINS": "false"}

    result = _check(tmp_path, env)

    assert result.returncode == 1
    assert "SECURE_HSTS_PRELOAD=true needs SECURE_HSTS_INCLUDE_SUBDOMAINS=true" in result.stderr


def test_an_origin_without_a_scheme_is_refused(tmp_path: Path) -> None:
    env = {**documented_production_environment(), "CSRF_TRUSTED_ORIGINS": "monitor.example.com"}

    result = _check(tmp_path, env)

    assert result.returncode == 1
    assert "CSRF_TRUSTED_ORIGINS is not a valid list of origins" in result.stderr
