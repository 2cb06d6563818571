"""Redundancy audit: reviewers' decisions and the field mappings confirmed through them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_decisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('cluster_id', sa.String(length=120), nullable=False),
    sa.Column('element_id', sa.String(length=100), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_decisions'))
    )
    op.create_index(op.f('ix_audit_decisions_cluster_id'), 'audit_decisions', ['cluster_id'], unique=False)
    op.create_table('audit_field_mappings',
    sa.Column('form_slug', sa.String(length=100), nullable=False),
    sa.Column('pointer', sa.String(length=500), nullable=False),
    sa.Column('element_id', sa.String(length=100), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['audit_decisions.id'], name=op.f('fk_audit_field_mappings_decision_id_audit_decisions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['element_id'], ['data_elements.id'], name=op.f('fk_audit_field_mappings_element_id_data_elements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('form_slug', 'pointer', name=op.f('pk_audit_field_mappings'))
    )
    op.create_index(op.f('ix_audit_field_mappings_decision_id'), 'audit_field_mappings', ['decision_id'], unique=False)
    op.create_index(op.f('ix_audit_field_mappings_element_id'), 'audit_field_mappings', ['element_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_field_mappings_element_id'), table_name='audit_field_mappings')
    op.drop_index(op.f('ix_audit_field_mappings_decision_id'), table_name='audit_field_mappings')
    op.drop_table('audit_field_mappings')
    op.drop_index(op.f('ix_audit_decisions_cluster_id'), table_name='audit_decisions')
    op.drop_table('audit_decisions')
