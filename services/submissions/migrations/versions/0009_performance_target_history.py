"""performance target history: each period is judged against the target in force then

``performance_targets`` holds each form's current target; this table keeps every change (a
set, or a removal with ``days``/``share`` NULL) from the moment it was made, and the measures
judge a period against the row in force at its ``as_of``. Targets already set are copied in as
in force since 1970: before this table they applied to every period, and they still do.

Revision ID: 0009_performance_target_history
Revises: 0008_erase_unconsented_values
Create Date: 2026-11-26 16:10:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0009_performance_target_history'
down_revision = '0008_erase_unconsented_values'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'performance_target_history',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('form', sa.String(length=128), nullable=False),
        sa.Column('days', sa.Integer(), nullable=True),
        sa.Column('share', sa.Float(), nullable=True),
        sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
        sa.Column('set_by', sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_performance_target_history')),
    )
    op.create_index(
        'ix_performance_target_history_form_effective_from',
        'performance_target_history',
        ['form', 'effective_from'],
    )
    op.execute(
        "INSERT INTO performance_target_history (form, days, share, effective_from, set_by) "
        "SELECT form, days, share, '1970-01-01 00:00:00+00:00', updated_by "
        "FROM performance_targets"
    )


def downgrade() -> None:
    op.drop_index(
        'ix_performance_target_history_form_effective_from',
        table_name='performance_target_history',
    )
    op.drop_table('performance_target_history')
