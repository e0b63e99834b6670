"""The Administrators and Sales groups, with their permissions."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from backoffice.roles import roles_ensure

    using = schema_editor.connection.alias
    # Permissions are normally created after all migrations (post_migrate); create them now so the groups
    # get them on a fresh database as well.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
    roles_ensure(apps=apps, using=using)


def remove_roles(apps, schema_editor):
    from backoffice.roles import ADMINISTRATORS, SALES

    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(
        name__in=[ADMINISTRATORS, SALES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0001_initial"),
        ("integrations", "0001_initial"),
        ("orders", "0001_initial"),
        ("payments", "0002_permissions"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
