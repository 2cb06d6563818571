"""deliveries: answers sealed at rest

Revision ID: 0004_sealed_delivery_answers
Revises: 0003_performance_referrals
Create Date: 2026-11-25 14:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_sealed_delivery_answers'
down_revision = '0003_performance_referrals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries') as batch_op:
        batch_op.add_column(sa.Column('sealed_answers', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliveries') as batch_op:
        batch_op.drop_column('sealed_answers')
