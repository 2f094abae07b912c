"""Organiser staff (the "Organisers" group) see sagas and their commands in the admin and
may retry a stuck step or compensate (the actions need change_sagainstance)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Organisers"
PERMISSIONS = [
    ("sagas", "sagainstance", ["view", "change"]),
    ("sagas", "commandrecord", ["view"]),
]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, model, actions in PERMISSIONS:
        for action in actions:
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label=app_label, codename=f"{action}_{model}"
                )
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="sagas"))


class Migration(migrations.Migration):
    dependencies = [
        ("sagas", "0001_sagas_engine_registration_entries"),
        ("championships", "0003_organisers_group"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
