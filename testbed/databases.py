"""Throwaway PostgreSQL schemas for the test suite, the replicas and the benchmarks."""

from __future__ import annotations

import contextlib
import secrets


@contextlib.contextmanager
def fresh_schema(url: str, prefix: str = "nexuschat_scratch"):
    """A URL to a new, empty schema on the PostgreSQL at `url` (search_path points at it),
    dropped afterwards: whatever opens it migrates it (a test's store, replicas, a bench)."""
    import sqlalchemy as sa

    schema = f"{prefix}_{secrets.token_hex(6)}"
    admin = sa.create_engine(url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.exec_driver_sql("SET lock_timeout = '10s'")
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.dispose()
