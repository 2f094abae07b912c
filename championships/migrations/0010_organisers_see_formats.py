"""Organisers may view the knockout rules of their championships and the player
statistics (read-only in the admin)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Organisers"
MODELS = ["knockoutrules", "playermatchstat"]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for model in MODELS:
        group.permissions.add(
            Permission.objects.get(
                content_type__app_label="championships", codename=f"view_{model}"
            )
        )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="championships",
                codename__in=[f"view_{m}" for m in MODELS],
            )
        )


class Migration(migrations.Migration):
    dependencies = [("championships", "0009_player_stats")]

    operations = [migrations.RunPython(grant, revoke)]
