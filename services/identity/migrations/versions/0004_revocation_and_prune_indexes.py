"""indexes for the hot deletes and revocations: refresh_tokens.user_id (a password change or
disabling revokes every sign-in of a user), refresh_tokens.family_expires_at and
login_failures.at (prune)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


INDEXES = (
    ("ix_refresh_tokens_user_id", "refresh_tokens", "user_id"),
    ("ix_refresh_tokens_family_expires_at", "refresh_tokens", "family_expires_at"),
    ("ix_login_failures_at", "login_failures", "at"),
)
"""(name, table, column). Without them ``revoke_all_for_user`` (and the cascade of a user's
delete) and ``prune`` read the whole table."""


def upgrade() -> None:
    context = op.get_context()
    if context.dialect.name != "postgresql":
        for name, table, column in INDEXES:
            op.create_index(name, table, [column], unique=False)
        return
    # refresh_tokens is written by every sign-in and refresh, login_failures by every failed
    # one: a plain CREATE INDEX would hold those writes for the whole build. CONCURRENTLY
    # does not, but cannot run in a transaction. A concurrent build that failed leaves an
    # INVALID index of its name: running the upgrade again drops it and builds it anew, and
    # keeps the ones already built (IF NOT EXISTS). (Offline, `--sql`, the statements are
    # written out without the checks.)
    with context.autocommit_block():
        for name, table, column in INDEXES:
            if not context.as_sql:
                _refuse_while_building(name, table)
                _drop_a_failed_build(name, table)
            op.create_index(
                name,
                table,
                [column],
                unique=False,
                postgresql_concurrently=True,
                if_not_exists=True,
            )


def _refuse_while_building(name: str, table: str) -> None:
    """A migration pod killed mid-build leaves its server process building the index: wait
    for it or stop it rather than queue behind it (or drop what it is building)."""
    building = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT p.pid FROM pg_stat_progress_create_index p JOIN pg_class c "
                "ON c.oid = p.index_relid WHERE c.relname = :name "
                "AND p.relid = to_regclass(:table)"
            ),
            {"name": name, "table": table},
        )
        .scalar()
    )
    if building is not None:
        raise RuntimeError(
            f"the index {name} is still being built by server process {building}: wait for "
            f"it (pg_stat_progress_create_index) or stop it (SELECT pg_cancel_backend({building})), "
            "then run the upgrade again"
        )


def _drop_a_failed_build(name: str, table: str) -> None:
    """Drop the index an earlier concurrent build left INVALID."""
    invalid = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = :name AND i.indrelid = to_regclass(:table) "
                "AND NOT i.indisvalid"
            ),
            {"name": name, "table": table},
        )
        .first()
    )
    if invalid:
        op.drop_index(name, table_name=table, postgresql_concurrently=True)


def downgrade() -> None:
    for name, table, _column in reversed(INDEXES):
        op.drop_index(name, table_name=table)
