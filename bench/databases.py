"""The throw-away databases a run writes to: a fresh PostgreSQL database on the local server (dropped
afterwards) or a SQLite file in the run's temporary folder (WAL mode, as in production)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.common import LOOPBACK

DEFAULT_POSTGRES_URL = f"postgres://postgres@{LOOPBACK}:5432/postgres"


def check_local(url: str) -> None:
    """Refuse any server but this machine's: a benchmark's traffic stays on the loopback."""
    host = urlsplit(url).hostname
    if host not in (LOOPBACK, "localhost"):
        raise SystemExit(f"{url}: the benchmark only talks to {LOOPBACK}, not {host!r}")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextlib.contextmanager
def postgres_database(server_url: str, name: str) -> Iterator[str]:
    """Create database ``name`` (dropping a leftover of the same name first) and drop it on exit;
    yields its URL."""
    check_local(server_url)
    admin_url = _with_database(server_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(server_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def postgres_version(server_url: str) -> str:
    with psycopg.connect(_with_database(server_url, "postgres")) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def sqlite_url(folder: Path, name: str) -> str:
    return f"sqlite:///{folder / f'{name}.sqlite3'}"
