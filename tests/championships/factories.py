"""Factories that go through the commands, so every row has its events."""

from __future__ import annotations

import factory
from django.contrib.auth.models import User
from factory.django import DjangoModelFactory

from championships import commands
from championships.models import Championship, Match, Team


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class ChampionshipFactory(factory.Factory[Championship]):
    class Meta:
        model = Championship

    actor_id = factory.LazyFunction(lambda: UserFactory.create().id)
    name = factory.Sequence(lambda n: f"League {n}")
    season = "2024"
    format = "round_robin"
    tie_breakers = "fifa_2022"

    @classmethod
    def _create(cls, model_class: type[Championship], **kwargs: object) -> Championship:
        return commands.championship_create(**kwargs)  # type: ignore[arg-type]


class TeamFactory(factory.Factory[Team]):
    class Meta:
        model = Team

    championship = factory.SubFactory(ChampionshipFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    group = ""

    @classmethod
    def _create(cls, model_class: type[Team], **kwargs: object) -> Team:
        championship = kwargs.pop("championship")
        assert isinstance(championship, Championship)
        return commands.team_register(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            **kwargs,  # type: ignore[arg-type]
        )


_SAME_CHAMPIONSHIP = factory.SelfAttribute("..championship")


class MatchFactory(factory.Factory[Match]):
    class Meta:
        model = Match

    championship = factory.SubFactory(ChampionshipFactory)
    home_team = factory.SubFactory(
        TeamFactory, championship=factory.SelfAttribute("..championship")
    )
    away_team = factory.SubFactory(
        TeamFactory, championship=factory.SelfAttribute("..championship")
    )
    round = None

    @classmethod
    def _create(cls, model_class: type[Match], **kwargs: object) -> Match:
        championship = kwargs.pop("championship")
        home, away = kwargs.pop("home_team"), kwargs.pop("away_team")
        assert isinstance(championship, Championship)
        assert isinstance(home, Team)
        assert isinstance(away, Team)
        return commands.match_schedule(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            home_team_id=home.id,
            away_team_id=away.id,
            **kwargs,  # type: ignore[arg-type]
        )
