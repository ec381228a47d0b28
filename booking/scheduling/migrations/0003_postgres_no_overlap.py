"""PostgreSQL-only: no two active appointments of one professional (or one room) overlap.

Why raw SQL behind a vendor check instead of ``ExclusionConstraint`` in the model's ``Meta``:

* the constraint only exists on PostgreSQL; the local default database is SQLite, where ``makemigrations``
  must stay clean and ``migrate`` must work, so the constraint is kept out of the model state entirely;
* ``ExclusionConstraint`` and ``BtreeGistExtension`` would need ``django.contrib.postgres`` in
  ``INSTALLED_APPS``, which this app does not require.

On SQLite the same guarantee comes from the booking service: every transaction is ``BEGIN IMMEDIATE``, so
writers serialise and the overlap check under the lock is enough.

The constraint covers the blocked interval ``[blocked_start, blocked_end)`` (session plus buffers) for every
status that keeps time taken, INCLUDING expired holds: the booking service releases (cancels) expired holds in
the same transaction before inserting. ``btree_gist`` lets the integer column join the GiST index; creating the
extension needs a role allowed to do so (the owner of the database on PostgreSQL 13+).
"""

from django.db import migrations

BLOCKING = "('pending_payment', 'confirmed', 'completed', 'no_show_patient', 'no_show_professional')"

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "ALTER TABLE scheduling_appointment ADD CONSTRAINT scheduling_appointment_no_professional_overlap "
    "EXCLUDE USING gist (professional_id WITH =, tstzrange(blocked_start, blocked_end, '[)') WITH &&) "
    f"WHERE (status IN {BLOCKING})",
    "ALTER TABLE scheduling_appointment ADD CONSTRAINT scheduling_appointment_no_room_overlap "
    "EXCLUDE USING gist (room_id WITH =, tstzrange(blocked_start, blocked_end, '[)') WITH &&) "
    f"WHERE (room_id IS NOT NULL AND status IN {BLOCKING})",
]
BACKWARD = [
    "ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS scheduling_appointment_no_room_overlap",
    "ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS scheduling_appointment_no_professional_overlap",
]


def _run_on_postgres(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0002_schedules_and_appointments"),
    ]

    operations = [
        migrations.RunPython(_run_on_postgres(FORWARD), _run_on_postgres(BACKWARD), elidable=False),
    ]
