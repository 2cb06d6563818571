"""erase profile values kept for residents who do not consent

A submission written at the same moment as a withdrawal of consent (or an erasure) could
write the resident's values back after the withdrawal had erased them (review H3, fixed in
the code since: the profile row is locked both ways). Values so written are still stored for
residents whose profile says ``keep = false`` (or who have no profile row at all): the
resident asked for them to be gone, so they are erased here. Nothing else is touched; with
consent, values are kept as before.

Revision ID: 0008_erase_unconsented_values
Revises: 0007_delivery_share_retention
Create Date: 2026-11-26 14:05:00
"""
from alembic import op


revision = '0008_erase_unconsented_values'
down_revision = '0007_delivery_share_retention'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        'DELETE FROM profile_values WHERE owner NOT IN '
        '(SELECT owner FROM profiles WHERE keep)'
    )


def downgrade() -> None:
    pass  # erased values cannot come back (nor should they: consent was withdrawn)
