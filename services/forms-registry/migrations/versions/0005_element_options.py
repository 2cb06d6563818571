"""Data elements: labels of an enum element's choices (options), in English and Spanish.

Revision ID: 0005_element_options
Revises: 0004_referral_rules
Create Date: 2026-11-26 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_element_options'
down_revision = '0004_referral_rules'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('data_elements') as batch:
        batch.add_column(sa.Column('options', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('data_elements') as batch:
        batch.drop_column('options')
