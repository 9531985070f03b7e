"""Reminders and notifications people control (issue #23, item 5).

- `notification_preferences`: a user's own (like notifications): per project (or, with no
  project, for all projects) and per kind, the channel `live`, `email`, `digest` or `off`;
  `action_required` is never `off` (a check). Audited; forced RLS by owner. Its audit rows
  carry the project id, so the audit log's read policy hides them from everyone but their
  owner, as it already hides notifications.
- `fpm_notification_channel(user, project, kind)`: the effective channel (the project's row,
  else the all-projects row, else the default: `email` for action_required, `live` for the
  rest). SECURITY DEFINER (the author of a notification cannot read the recipient's
  preferences), owned by the system role.
- `notification_deliveries` (internal): the notifications still to be mailed, at once
  (`email`) or in the next daily digest (`digest`); written with the notification by the
  author's transaction (insert only), read and marked sent by the system role.
- `reminders_sent` (internal): one row per (kind of task, task, user, day in the project's
  zone): the daily job inserts ON CONFLICT DO NOTHING in the transaction that writes the
  reminder, so two workers and a restart never send one twice.
- `digests_sent` (internal): one row per (user, day in the organisation's zone): one digest
  a day at most.
- `notifications`: a user no longer reads the notifications of a project they cannot read
  (the owner's policy also asks for the project's visibility), so someone removed from a
  team stops seeing its notifications in the list, the exports and `read`.

Revision ID: 0026
Revises: 0031
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTERNAL = ("notification_deliveries", "reminders_sent", "digests_sent")

CREATE = [
    """CREATE TABLE notification_preferences (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    org_id uuid NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL,
    user_id uuid NOT NULL,
    project_id uuid,
    kind text NOT NULL,
    channel text NOT NULL,
    CONSTRAINT pk_notification_preferences PRIMARY KEY (id),
    CONSTRAINT fk_notification_preferences_org_id_organizations FOREIGN KEY (org_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_notification_preferences_user_id_users FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_notification_preferences_project_id_projects FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT ck_notification_preferences_kind_length CHECK (length(kind) BETWEEN 1 AND 64),
    CONSTRAINT ck_notification_preferences_channel
        CHECK (channel IN ('live', 'email', 'digest', 'off')),
    CONSTRAINT ck_notification_preferences_action_required
        CHECK (kind <> 'action_required' OR channel <> 'off'))""",
    """CREATE TABLE notification_deliveries (
    notification_id uuid NOT NULL,
    org_id uuid NOT NULL,
    user_id uuid NOT NULL,
    channel text NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL,
    sent_at timestamptz,
    CONSTRAINT pk_notification_deliveries PRIMARY KEY (notification_id),
    CONSTRAINT fk_notification_deliveries_notification_id_notifications
        FOREIGN KEY (notification_id) REFERENCES notifications (id) ON DELETE CASCADE,
    CONSTRAINT fk_notification_deliveries_org_id_organizations FOREIGN KEY (org_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_notification_deliveries_user_id_users FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_notification_deliveries_channel CHECK (channel IN ('email', 'digest')))""",
    """CREATE TABLE reminders_sent (
    kind text NOT NULL,
    task_id uuid NOT NULL,
    user_id uuid NOT NULL,
    day date NOT NULL,
    org_id uuid NOT NULL,
    sent_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_reminders_sent PRIMARY KEY (kind, task_id, user_id, day),
    CONSTRAINT fk_reminders_sent_org_id_organizations FOREIGN KEY (org_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_reminders_sent_user_id_users FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE)""",
    """CREATE TABLE digests_sent (
    user_id uuid NOT NULL,
    day date NOT NULL,
    org_id uuid NOT NULL,
    items integer NOT NULL,
    sent_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_digests_sent PRIMARY KEY (user_id, day),
    CONSTRAINT fk_digests_sent_org_id_organizations FOREIGN KEY (org_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_digests_sent_user_id_users FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE)""",
]
INDEXES = [
    "CREATE INDEX ix_notification_preferences_org_id ON notification_preferences (org_id)",
    "CREATE INDEX ix_notification_preferences_user_id ON notification_preferences (user_id)",
    "CREATE INDEX ix_notification_preferences_project_id "
    "ON notification_preferences (project_id)",
    # One row per (user, kind) for all projects, one per (user, project, kind).
    "CREATE UNIQUE INDEX uq_notification_preferences_all ON notification_preferences "
    "(user_id, kind) WHERE project_id IS NULL",
    "CREATE UNIQUE INDEX uq_notification_preferences_project ON notification_preferences "
    "(user_id, project_id, kind) WHERE project_id IS NOT NULL",
    "CREATE INDEX ix_notification_deliveries_org_id ON notification_deliveries (org_id)",
    "CREATE INDEX ix_notification_deliveries_user_id ON notification_deliveries (user_id)",
    "CREATE INDEX ix_notification_deliveries_pending ON notification_deliveries "
    "(channel, user_id) WHERE sent_at IS NULL",
    "CREATE INDEX ix_reminders_sent_org_id ON reminders_sent (org_id)",
    "CREATE INDEX ix_reminders_sent_user_id ON reminders_sent (user_id)",
    "CREATE INDEX ix_reminders_sent_day ON reminders_sent (day)",
    "CREATE INDEX ix_digests_sent_org_id ON digests_sent (org_id)",
]

CHANNEL_FUNCTION = """
CREATE FUNCTION fpm_notification_channel(p_user uuid, p_project uuid, p_kind text)
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT coalesce(
        (SELECT channel FROM notification_preferences
         WHERE user_id = p_user AND project_id = p_project AND kind = p_kind),
        (SELECT channel FROM notification_preferences
         WHERE user_id = p_user AND project_id IS NULL AND kind = p_kind),
        CASE WHEN p_kind = 'action_required' THEN 'email' ELSE 'live' END)
$$
"""
CHANNEL_SIGNATURE = "fpm_notification_channel(uuid, uuid, text)"

VISIBLE = "project_id = ANY ((SELECT app_visible_project_ids())::uuid[])"
OLD_READ = f"""CREATE POLICY read ON audit_logs FOR SELECT TO formula_pm_app USING (org_id = app_org_id() AND
    ((SELECT app_is_org_admin()) OR (project_id IS NOT NULL AND {VISIBLE} AND
      (table_name IS DISTINCT FROM 'notifications'
       OR coalesce(new_values, old_values)->>'user_id' = app_user_id()::text))))"""  # noqa: S608 - VISIBLE, a constant
NEW_READ = f"""CREATE POLICY read ON audit_logs FOR SELECT TO formula_pm_app USING (org_id = app_org_id() AND
    ((SELECT app_is_org_admin()) OR (project_id IS NOT NULL AND {VISIBLE} AND
      (table_name NOT IN ('notifications', 'notification_preferences')
       OR coalesce(new_values, old_values)->>'user_id' = app_user_id()::text))))"""
ORG = "org_id = app_org_id()"
OLD_OWN = f"""CREATE POLICY own ON notifications TO formula_pm_app USING ({ORG} AND user_id = app_user_id())
    WITH CHECK ({ORG})"""
NEW_OWN = f"""CREATE POLICY own ON notifications TO formula_pm_app USING ({ORG} AND user_id = app_user_id()
    AND (project_id IS NULL OR {VISIBLE})) WITH CHECK ({ORG})"""


def upgrade() -> None:
    for statement in CREATE + INDEXES:
        op.execute(statement)
    table = "notification_preferences"
    op.execute(f"""CREATE TRIGGER fpm_touch BEFORE UPDATE ON {table}
                   FOR EACH ROW EXECUTE FUNCTION fpm_touch_row()""")
    op.execute(f"""CREATE TRIGGER fpm_audit AFTER INSERT OR DELETE ON {table}
                   FOR EACH ROW EXECUTE FUNCTION fpm_audit_row()""")
    op.execute(f"""CREATE TRIGGER fpm_audit_update AFTER UPDATE ON {table}
                   FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
                   EXECUTE FUNCTION fpm_audit_row()""")
    for name in (table, *INTERNAL):
        op.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO formula_pm_system")
        op.execute(f"""CREATE POLICY system ON {name} TO formula_pm_system
                       USING (true) WITH CHECK (true)""")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO formula_pm_app")
    op.execute(f"""CREATE POLICY own ON {table} TO formula_pm_app
                   USING ({ORG} AND user_id = app_user_id())
                   WITH CHECK ({ORG} AND user_id = app_user_id())""")
    # The author of a notification writes its delivery row, never reads one.
    op.execute("GRANT INSERT ON notification_deliveries TO formula_pm_app")
    op.execute(f"""CREATE POLICY author ON notification_deliveries FOR INSERT
                   TO formula_pm_app WITH CHECK ({ORG})""")
    op.execute(CHANNEL_FUNCTION)
    op.execute(f"ALTER FUNCTION {CHANNEL_SIGNATURE} OWNER TO formula_pm_system")
    op.execute(f"REVOKE ALL ON FUNCTION {CHANNEL_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {CHANNEL_SIGNATURE} "
               "TO formula_pm_app, formula_pm_system")
    op.execute("DROP POLICY read ON audit_logs")
    op.execute(NEW_READ)
    op.execute("DROP POLICY own ON notifications")
    op.execute(NEW_OWN)


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS own ON notifications")
    op.execute(OLD_OWN)
    op.execute("DROP POLICY IF EXISTS read ON audit_logs")
    op.execute(OLD_READ)
    op.execute(f"DROP FUNCTION IF EXISTS {CHANNEL_SIGNATURE}")
    for name in reversed(INTERNAL):
        op.execute(f"DROP TABLE IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS notification_preferences")
