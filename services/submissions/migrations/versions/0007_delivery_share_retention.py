"""deliveries: retention of the agencies' shares (share_purged_at, and a partial index of the
rows that still hold a share, for the retention job)

Revision ID: 0007_delivery_share_retention
Revises: 0006_measure_durations
Create Date: 2026-11-26 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_delivery_share_retention'
down_revision = '0006_measure_durations'
branch_labels = None
depends_on = None


INDEX = 'ix_deliveries_share_held'


def upgrade() -> None:
    context = op.get_context()
    if context.dialect.name != 'postgresql':
        with op.batch_alter_table('deliveries') as batch_op:
            batch_op.add_column(
                sa.Column('share_purged_at', sa.DateTime(timezone=True), nullable=True)
            )
        op.create_index(
            INDEX,
            'deliveries',
            ['status', 'created_at'],
            unique=False,
            sqlite_where=sa.text('share_purged_at IS NULL'),
        )
        return
    # On a live PostgreSQL deliveries can be a large table that workers write all the time: a
    # plain CREATE INDEX would hold their writes for the whole build. CONCURRENTLY does not,
    # but cannot run in a transaction, so the work so far is committed first (adding a
    # nullable column is instant) while alembic still records 0006. A concurrent build that
    # failed leaves an INVALID index of that name behind: running the upgrade again keeps the
    # column (IF NOT EXISTS), drops that index and builds it anew. (Offline, `--sql`, the
    # statements are written out without the checks.)
    if not context.as_sql:
        _refuse_while_building()
    # The ALTER needs a moment's exclusive lock: waiting long for it would queue every
    # worker's write behind it, so it gives up after a few seconds instead (run it again).
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        'ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS share_purged_at TIMESTAMP WITH TIME ZONE'
    )
    with context.autocommit_block():
        if not context.as_sql:
            _drop_a_failed_build()
        op.create_index(
            INDEX,
            'deliveries',
            ['status', 'created_at'],
            unique=False,
            postgresql_where=sa.text('share_purged_at IS NULL'),
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def _refuse_while_building() -> None:
    """A migration pod killed mid-build leaves its server process building the index: wait
    for it or stop it rather than queue behind it (or drop what it is building)."""
    building = op.get_bind().execute(
        sa.text(
            'SELECT p.pid FROM pg_stat_progress_create_index p JOIN pg_class c '
            "ON c.oid = p.index_relid WHERE c.relname = :name AND p.relid = to_regclass('deliveries')"
        ),
        {'name': INDEX},
    ).scalar()
    if building is not None:
        raise RuntimeError(
            f'the index {INDEX} is still being built by server process {building}: wait for '
            f'it (pg_stat_progress_create_index) or stop it (SELECT pg_cancel_backend({building})), '
            'then run the upgrade again'
        )


def _drop_a_failed_build() -> None:
    """Drop the index an earlier concurrent build left INVALID (no build of it is running:
    checked before the ALTER, whose lock a running build would have held up)."""
    invalid = op.get_bind().execute(
        sa.text(
            'SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid '
            "WHERE c.relname = :name AND i.indrelid = to_regclass('deliveries') "
            'AND NOT i.indisvalid'
        ),
        {'name': INDEX},
    ).first()
    if invalid:
        op.drop_index(INDEX, table_name='deliveries', postgresql_concurrently=True)


def downgrade() -> None:
    # Without the marker an erased delivery could not be told from one holding its answers:
    # the older code would list it with empty answers and replay it to send nothing. The
    # older code runs on this schema as it is (the column is extra to it): roll the code
    # back, not this migration, once any share has been erased.
    if op.get_context().as_sql:
        raise RuntimeError('0007 checks the data before going down: run it online, not with --sql')
    erased = op.get_bind().execute(
        sa.text('SELECT count(*) FROM deliveries WHERE share_purged_at IS NOT NULL')
    ).scalar()
    if erased:
        raise RuntimeError(
            f'{erased} deliveries had their share erased under the retention rule; '
            'downgrading would lose that mark. Roll back the code only: it runs on this schema.'
        )
    op.drop_index(INDEX, table_name='deliveries')
    with op.batch_alter_table('deliveries') as batch_op:
        batch_op.drop_column('share_purged_at')
