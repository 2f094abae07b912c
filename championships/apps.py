from django.apps import AppConfig


class ChampionshipsConfig(AppConfig):
    name = "championships"
    verbose_name = "Championships"
