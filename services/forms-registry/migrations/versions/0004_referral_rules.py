"""Referral rules (issue 11): from form X, a condition over the answers, to form Y.

Revision ID: 0004_referral_rules
Revises: 0003
Create Date: 2026-11-25 14:25:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_referral_rules'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('referral_rules',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('from_form', sa.String(length=100), nullable=False),
    sa.Column('to_form', sa.String(length=100), nullable=False),
    sa.Column('condition', sa.JSON(), nullable=False),
    sa.Column('reason_en', sa.Text(), nullable=False),
    sa.Column('reason_es', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_rules'))
    )
    op.create_index('ix_referral_rules_from_form', 'referral_rules', ['from_form', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_referral_rules_from_form', table_name='referral_rules')
    op.drop_table('referral_rules')
