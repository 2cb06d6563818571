"""performance management and referrals: targets, referrals, measure indexes

Revision ID: 0003_performance_referrals
Revises: 0002_resident
Create Date: 2026-11-25 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_performance_referrals'
down_revision = '0002_resident'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('performance_targets',
    sa.Column('form', sa.String(length=128), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('share', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('form', name=op.f('pk_performance_targets'))
    )
    op.create_table('referrals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('source_submission_id', sa.String(length=36), nullable=False),
    sa.Column('from_form', sa.String(length=128), nullable=False),
    sa.Column('to_form', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('draft_id', sa.String(length=36), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submission_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals')),
    sa.UniqueConstraint('source_submission_id', 'rule_id', name=op.f('uq_referrals_source_submission_id')),
    )
    op.create_table('referral_checks',
    sa.Column('submission_id', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('submission_id', name=op.f('pk_referral_checks'))
    )
    op.create_index('ix_referrals_owner_created_at', 'referrals', ['owner', 'created_at'], unique=False)
    op.create_index('ix_referrals_owner_to_form_status', 'referrals', ['owner', 'to_form', 'status'], unique=False)
    op.create_index('ix_referrals_from_form_to_form', 'referrals', ['from_form', 'to_form'], unique=False)
    op.create_index('ix_submissions_submitted_at', 'submissions', ['submitted_at'], unique=False)
    op.create_index('ix_submissions_form_submitted_at', 'submissions', ['form', 'submitted_at'], unique=False)
    op.create_index('ix_submissions_agency_submitted_at', 'submissions', ['owning_agency', 'submitted_at'], unique=False)
    op.create_index('ix_submission_events_timeline', 'submission_events', ['submission_id', 'at', 'status', 'agency', 'id'], unique=False)
    op.create_index('ix_submission_events_at', 'submission_events', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_submission_events_at', table_name='submission_events')
    op.drop_index('ix_submission_events_timeline', table_name='submission_events')
    op.drop_index('ix_submissions_agency_submitted_at', table_name='submissions')
    op.drop_index('ix_submissions_form_submitted_at', table_name='submissions')
    op.drop_index('ix_submissions_submitted_at', table_name='submissions')
    op.drop_index('ix_referrals_from_form_to_form', table_name='referrals')
    op.drop_index('ix_referrals_owner_to_form_status', table_name='referrals')
    op.drop_index('ix_referrals_owner_created_at', table_name='referrals')
    op.drop_table('referral_checks')
    op.drop_table('referrals')
    op.drop_table('performance_targets')
