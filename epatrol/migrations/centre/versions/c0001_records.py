"""What the boxes report (epatrol/centre/records.py): boxes, cameras with street and grid, events, evidence, re-inspections.

Revision ID: c0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

revision = "c0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('centre_boxes',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('centre_cameras',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('box_id', sa.String(length=64), nullable=False),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('site', sa.String(length=200), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=True),
    sa.Column('grid', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['box_id'], ['centre_boxes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('box_id', 'camera_id', name='uq_centre_cameras_box_camera')
    )
    op.create_index(op.f('ix_centre_cameras_grid'), 'centre_cameras', ['grid'], unique=False)
    op.create_index(op.f('ix_centre_cameras_street'), 'centre_cameras', ['street'], unique=False)
    op.create_table('centre_inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('box_id', sa.String(length=64), nullable=False),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('zone', sa.String(length=200), nullable=False),
    sa.Column('violation', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('observed_at', sa.DateTime(), nullable=True),
    sa.Column('snapshot_sha256', sa.String(length=64), nullable=True),
    sa.Column('snapshot_object', sa.Text(), nullable=True),
    sa.Column('snapshot_state', sa.String(length=16), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['box_id'], ['centre_boxes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id')
    )
    op.create_index(op.f('ix_centre_inspections_case_id'), 'centre_inspections', ['case_id'], unique=False)
    op.create_table('centre_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('box_id', sa.String(length=64), nullable=False),
    sa.Column('edge_event_id', sa.Integer(), nullable=False),
    sa.Column('camera_ref', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('zone', sa.String(length=200), nullable=False),
    sa.Column('violation', sa.String(length=64), nullable=False),
    sa.Column('onset', sa.DateTime(), nullable=False),
    sa.Column('alert', sa.DateTime(), nullable=False),
    sa.Column('ended', sa.DateTime(), nullable=True),
    sa.Column('end_reason', sa.String(length=200), nullable=True),
    sa.Column('review_state', sa.String(length=16), nullable=False),
    sa.Column('clip_state', sa.String(length=16), nullable=False),
    sa.Column('model_name', sa.String(length=200), nullable=False),
    sa.Column('model_sha256', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('edge_seq', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['box_id'], ['centre_boxes.id'], ),
    sa.ForeignKeyConstraint(['camera_ref'], ['centre_cameras.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('box_id', 'edge_event_id', name='uq_centre_events_box_edge')
    )
    op.create_index(op.f('ix_centre_events_camera_ref'), 'centre_events', ['camera_ref'], unique=False)
    op.create_index('ix_centre_events_violation_onset', 'centre_events', ['violation', 'onset'], unique=False)
    op.create_table('centre_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('object_key', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['centre_events.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'kind', 'sha256', name='uq_centre_evidence_file')
    )
    op.create_index(op.f('ix_centre_evidence_event_id'), 'centre_evidence', ['event_id'], unique=False)


def downgrade() -> None:
    op.drop_table('centre_evidence')
    op.drop_table('centre_events')
    op.drop_table('centre_inspections')
    op.drop_table('centre_cameras')
    op.drop_table('centre_boxes')
