"""The staff roles as groups, each with the permissions of its job.

The roles and their permissions are defined once, in accounts.staff.ROLE_PERMISSIONS;
every later `migrate` keeps the groups in line with it (accounts.signals).
"""

from django.db import migrations

from accounts.staff import ROLE_PERMISSIONS, staff_roles_sync


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_staff_and_labels"),
        ("scores", "0003_labels"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(lambda apps, schema_editor: staff_roles_sync(apps), remove_roles)
    ]
