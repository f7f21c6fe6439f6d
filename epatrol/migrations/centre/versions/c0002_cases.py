"""The closed loop: cases, their departments, handlings and photos; centre users and tokens; the hash-chained audit trail.

Revision ID: c0002
Revises: c0001
"""

import sqlalchemy as sa
from alembic import op

revision = "c0002"
down_revision = 'c0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('centre_audit',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_index(op.f('ix_centre_audit_action'), 'centre_audit', ['action'], unique=False)
    op.create_index(op.f('ix_centre_audit_actor'), 'centre_audit', ['actor'], unique=False)
    op.create_index(op.f('ix_centre_audit_at'), 'centre_audit', ['at'], unique=False)
    op.create_index(op.f('ix_centre_audit_subject'), 'centre_audit', ['subject'], unique=False)
    op.create_table('centre_audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('centre_photos',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('centre_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=True),
    sa.Column('street', sa.String(length=200), nullable=True),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("role IN ('dispatcher', 'handler', 'street_chief', 'admin')", name='ck_centre_users_role'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('centre_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['centre_users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    op.create_index(op.f('ix_centre_tokens_user_id'), 'centre_tokens', ['user_id'], unique=False)
    op.create_table('centre_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('box_id', sa.String(length=64), nullable=False),
    sa.Column('camera_ref', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('zone', sa.String(length=200), nullable=False),
    sa.Column('violation', sa.String(length=64), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=True),
    sa.Column('grid', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('filed_at', sa.DateTime(), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(), nullable=True),
    sa.Column('dispatched_by', sa.String(length=64), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('escalated_at', sa.DateTime(), nullable=True),
    sa.Column('ever_overdue', sa.Boolean(), nullable=False),
    sa.Column('handled_at', sa.DateTime(), nullable=True),
    sa.Column('inspection_id', sa.Integer(), nullable=True),
    sa.Column('inspection_asked_at', sa.DateTime(), nullable=True),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closing_inspection_id', sa.Integer(), nullable=True),
    sa.Column('recurrence_of', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("state IN ('filed', 'dispatched', 'reinspecting', 'closed')", name='ck_centre_cases_state'),
    sa.ForeignKeyConstraint(['camera_ref'], ['centre_cameras.id'], ),
    sa.ForeignKeyConstraint(['event_id'], ['centre_events.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id'),
    sqlite_autoincrement=True
    )
    op.create_index(op.f('ix_centre_cases_filed_at'), 'centre_cases', ['filed_at'], unique=False)
    op.create_index(op.f('ix_centre_cases_grid'), 'centre_cases', ['grid'], unique=False)
    op.create_index('ix_centre_cases_place', 'centre_cases', ['camera_ref', 'zone', 'violation'], unique=False)
    op.create_index('ix_centre_cases_state_due', 'centre_cases', ['state', 'due_at'], unique=False)
    op.create_index(op.f('ix_centre_cases_street'), 'centre_cases', ['street'], unique=False)
    op.create_index(op.f('ix_centre_cases_violation'), 'centre_cases', ['violation'], unique=False)
    op.create_table('centre_case_departments',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['centre_cases.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'department')
    )
    op.create_index(op.f('ix_centre_case_departments_department'), 'centre_case_departments', ['department'], unique=False)
    op.create_table('centre_case_handlings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('handled_by', sa.String(length=64), nullable=False),
    sa.Column('handled_at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('photo_sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['centre_cases.id'], ),
    sa.ForeignKeyConstraint(['photo_sha256'], ['centre_photos.sha256'], ),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    op.create_index(op.f('ix_centre_case_handlings_case_id'), 'centre_case_handlings', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_table('centre_case_handlings')
    op.drop_table('centre_case_departments')
    op.drop_table('centre_cases')
    op.drop_table('centre_tokens')
    op.drop_table('centre_users')
    op.drop_table('centre_photos')
    op.drop_table('centre_audit_head')
    op.drop_table('centre_audit')
