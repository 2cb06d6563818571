"""Forms: translated titles and descriptions (i18n) for the catalog in Spanish and more.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 14:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('forms') as batch:
        batch.add_column(sa.Column('i18n', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('forms') as batch:
        batch.drop_column('i18n')
