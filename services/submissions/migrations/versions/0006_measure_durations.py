"""performance management: week and durations on submission_facts, covering indexes in the
order the measures group (form or agency, then week), deliveries by form and submission time

Revision ID: 0006_measure_durations
Revises: 0005_submission_facts
Create Date: 2026-11-25 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_measure_durations'
down_revision = '0005_submission_facts'
branch_labels = None
depends_on = None

# copies of tellonce_submissions.performance.facts.WEEK_SQL / SECONDS_SQL (a migration never
# imports application code that may change later)
WEEK_SQL = {
    'postgresql': "CAST(date_trunc('week', {t} AT TIME ZONE 'UTC') AS date)",
    'sqlite': "date({t}, 'weekday 0', '-6 days')",
}
SECONDS_SQL = {
    'postgresql': "date_part('epoch', {a} - {b})",
    'sqlite': "(julianday({a}) - julianday({b})) * 86400.0",
}
MEASURED = ['submitted_at', 'responded_at', 'response_s', 'decided_at', 'decision_s', 'needs_info_at']


def upgrade() -> None:
    dialect = 'postgresql' if op.get_bind().dialect.name == 'postgresql' else 'sqlite'
    seconds = SECONDS_SQL[dialect]
    with op.batch_alter_table('submission_facts') as batch_op:
        batch_op.add_column(sa.Column('week', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('response_s', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('decision_s', sa.Float(), nullable=True))
    op.execute(
        'UPDATE submission_facts SET '
        f"week = {WEEK_SQL[dialect].format(t='submitted_at')}, "
        f"response_s = {seconds.format(a='responded_at', b='submitted_at')}, "
        f"decision_s = {seconds.format(a='decided_at', b='submitted_at')}"
    )
    with op.batch_alter_table('submission_facts') as batch_op:
        batch_op.alter_column('week', existing_type=sa.Date(), nullable=False)
    op.drop_index('ix_submission_facts_form_submitted_at', table_name='submission_facts')
    op.drop_index('ix_submission_facts_agency_submitted_at', table_name='submission_facts')
    op.create_index('ix_submission_facts_form_week', 'submission_facts', ['form', 'week'], unique=False, postgresql_include=['owning_agency', *MEASURED])
    op.create_index('ix_submission_facts_agency_week', 'submission_facts', ['owning_agency', 'week'], unique=False, postgresql_include=['form', *MEASURED])
    op.create_index('ix_deliveries_form_submitted_at', 'deliveries', ['form', 'submitted_at'], unique=False, postgresql_include=['submission_id', 'status', 'created_at', 'delivered_at', 'acked_at'])


def downgrade() -> None:
    op.drop_index('ix_deliveries_form_submitted_at', table_name='deliveries')
    op.drop_index('ix_submission_facts_agency_week', table_name='submission_facts')
    op.drop_index('ix_submission_facts_form_week', table_name='submission_facts')
    op.create_index('ix_submission_facts_form_submitted_at', 'submission_facts', ['form', 'submitted_at'], unique=False)
    op.create_index('ix_submission_facts_agency_submitted_at', 'submission_facts', ['owning_agency', 'submitted_at'], unique=False)
    with op.batch_alter_table('submission_facts') as batch_op:
        batch_op.drop_column('decision_s')
        batch_op.drop_column('response_s')
        batch_op.drop_column('week')
