"""performance management: one row of milestones per submission (submission_facts)

Revision ID: 0005_submission_facts
Revises: 0004_sealed_delivery_answers
Create Date: 2026-11-25 14:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_submission_facts'
down_revision = '0004_sealed_delivery_answers'
branch_labels = None
depends_on = None

# a copy of tellonce_submissions.performance.facts.BACKFILL_SQL (a migration never imports
# application code that may change later)
BACKFILL_SQL = """
INSERT INTO submission_facts (submission_id, form, owning_agency, submitted_at, responded_at,
  decided_at, needs_info_at, last_status, last_at)
SELECT s.id, s.form, s.owning_agency, s.submitted_at,
  (SELECT min(e.at) FROM submission_events e
    WHERE e.submission_id = s.id AND e.agency IS NOT NULL),
  (SELECT min(e.at) FROM submission_events e
    WHERE e.submission_id = s.id AND e.status IN ('approved', 'denied')),
  (SELECT min(e.at) FROM submission_events e
    WHERE e.submission_id = s.id AND e.status = 'needs_info'),
  coalesce((SELECT e.status FROM submission_events e WHERE e.submission_id = s.id
    ORDER BY e.at DESC, e.id DESC LIMIT 1), 'submitted'),
  coalesce((SELECT max(e.at) FROM submission_events e WHERE e.submission_id = s.id),
    s.submitted_at)
FROM submissions s
WHERE NOT EXISTS (SELECT 1 FROM submission_facts f WHERE f.submission_id = s.id)
"""


def upgrade() -> None:
    op.create_table('submission_facts',
    sa.Column('submission_id', sa.String(length=36), nullable=False),
    sa.Column('form', sa.String(length=128), nullable=False),
    sa.Column('owning_agency', sa.String(length=32), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('needs_info_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.String(length=32), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('submission_id', name=op.f('pk_submission_facts'))
    )
    op.create_index('ix_submission_facts_submitted_at', 'submission_facts', ['submitted_at'], unique=False)
    op.create_index('ix_submission_facts_form_submitted_at', 'submission_facts', ['form', 'submitted_at'], unique=False)
    op.create_index('ix_submission_facts_agency_submitted_at', 'submission_facts', ['owning_agency', 'submitted_at'], unique=False)
    op.execute(BACKFILL_SQL)
    # the measures no longer read these (0003 added them): fewer indexes on the hot tables
    op.drop_index('ix_submission_events_at', table_name='submission_events')
    op.drop_index('ix_submissions_agency_submitted_at', table_name='submissions')
    op.drop_index('ix_submissions_form_submitted_at', table_name='submissions')
    op.drop_index('ix_submissions_submitted_at', table_name='submissions')


def downgrade() -> None:
    op.create_index('ix_submissions_submitted_at', 'submissions', ['submitted_at'], unique=False)
    op.create_index('ix_submissions_form_submitted_at', 'submissions', ['form', 'submitted_at'], unique=False)
    op.create_index('ix_submissions_agency_submitted_at', 'submissions', ['owning_agency', 'submitted_at'], unique=False)
    op.create_index('ix_submission_events_at', 'submission_events', ['at'], unique=False)
    op.drop_index('ix_submission_facts_agency_submitted_at', table_name='submission_facts')
    op.drop_index('ix_submission_facts_form_submitted_at', table_name='submission_facts')
    op.drop_index('ix_submission_facts_submitted_at', table_name='submission_facts')
    op.drop_table('submission_facts')
