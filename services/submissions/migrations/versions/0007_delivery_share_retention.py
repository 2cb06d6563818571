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


def upgrade() -> None:
    with op.batch_alter_table('deliveries') as batch_op:
        batch_op.add_column(sa.Column('share_purged_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        'ix_deliveries_share_held',
        'deliveries',
        ['status', 'created_at'],
        unique=False,
        postgresql_where=sa.text('share_purged_at IS NULL'),
        sqlite_where=sa.text('share_purged_at IS NULL'),
    )


def downgrade() -> None:
    # Without the marker an erased delivery could not be told from one holding its answers:
    # the older code would list it with empty answers and replay it to send nothing. The
    # older code runs on this schema as it is (the column is extra to it): roll the code
    # back, not this migration, once any share has been erased.
    erased = op.get_bind().execute(
        sa.text('SELECT count(*) FROM deliveries WHERE share_purged_at IS NOT NULL')
    ).scalar()
    if erased:
        raise RuntimeError(
            f'{erased} deliveries had their share erased under the retention rule; '
            'downgrading would lose that mark. Roll back the code only: it runs on this schema.'
        )
    op.drop_index('ix_deliveries_share_held', table_name='deliveries')
    with op.batch_alter_table('deliveries') as batch_op:
        batch_op.drop_column('share_purged_at')
