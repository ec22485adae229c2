"""initial catalog: runs, snapshots, checkpoints, gate results

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("wiki", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON()),
        sa.Column("message", sa.Text()),
        sa.Column("started_at", ts, nullable=False),
        sa.Column("ended_at", ts),
        sa.Column("duration_s", sa.Float()),
        sa.Column("metrics", sa.JSON()),
    )
    op.create_index("ix_runs_kind", "runs", ["kind"])
    op.create_index("ix_runs_wiki", "runs", ["wiki"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("wiki", sa.String(64), nullable=False),
        sa.Column("snapshot", sa.String(32), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("published_at", ts),
        sa.UniqueConstraint("dataset", "wiki", "snapshot", name="uq_snapshot"),
    )
    op.create_index("ix_snapshots_dataset", "snapshots", ["dataset"])
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("wiki", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.UniqueConstraint("name", "wiki", name="uq_checkpoint"),
    )
    op.create_table(
        "gate_results",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("gate", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("metrics", sa.JSON()),
        sa.Column("message", sa.Text()),
        sa.Column("created_at", ts, nullable=False),
    )
    op.create_index("ix_gate_results_run_id", "gate_results", ["run_id"])


def downgrade() -> None:
    op.drop_table("gate_results")
    op.drop_table("checkpoints")
    op.drop_table("snapshots")
    op.drop_table("runs")
