"""The "Organisers" group: staff in it use the championships admin (scoped to the
championships they own or co-organise by ChampionshipAdmin / MatchAdmin)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Organisers"
PERMISSIONS = [
    ("championships", "championship", ["view", "add", "change"]),
    ("championships", "team", ["view"]),
    ("championships", "match", ["view", "change"]),
    ("championships", "goal", ["view"]),
    ("championships", "standing", ["view"]),
]


def create_group(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate): make sure
    # they exist now.
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


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("championships", "0002_idempotency_record"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
