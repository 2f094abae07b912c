"""Admin for organisers. Writes go through the commands (so they record events);
rows are read-only. Organisers (staff in the "Organisers" group) see only the
championships they own or co-organise; superusers see all."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from championships import commands, projections
from championships.aggregates.bracket import DrawOptions
from championships.aggregates.championship import MAX_DEDUCTION
from championships.aggregates.match import MAX_SCORE
from championships.exceptions import DomainError
from championships.knockout import SEEDINGS
from championships.knockout_events import CARD_KINDS
from championships.models import (
    BRACKET_FORMATS,
    Championship,
    Deduction,
    DeductionChange,
    KnockoutRules,
    Match,
    MatchStatus,
    PlayerMatchStat,
    Team,
)
from championships.selectors import championship_events
from championships.tiebreakers import DEFAULT_PRESET, PRESETS
from events.store import ConcurrencyError

ORGANISERS_GROUP = "Organisers"
WRITE_ERRORS = (DomainError, ConcurrencyError)
EVENT_HISTORY_PAGE = 500


def organised(request: HttpRequest) -> Q:
    """Championships the request's user may see: all for a superuser."""
    if request.user.is_superuser:
        return Q()
    return Q(owner_id=request.user.pk) | Q(organisers__id=request.user.pk)


def _actor(request: HttpRequest) -> int:
    user_id = request.user.pk
    assert isinstance(user_id, int), "the admin requires a logged-in user"
    return user_id


def _championship_version(row: Team | Deduction) -> int:
    """Teams and deductions are written to their championship's stream."""
    return row.championship.version


def _listed(text: str, *, on_one_line: str) -> list[str]:
    """The items of a form's list: one per line, or, written on one line, separated by
    what the pattern ``on_one_line`` matches."""
    text = text.strip()
    parts = text.splitlines() if "\n" in text else re.split(on_one_line, text)
    return [part.strip() for part in parts if part.strip()]


def _fail(modeladmin: admin.ModelAdmin, request: HttpRequest, exc: Exception) -> None:
    modeladmin.message_user(request, str(exc), messages.ERROR)


def action_form(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    form_class: type[forms.Form],
    action: str,
    title: str,
    run: Callable[[Any, dict[str, Any]], object],
    initial: Callable[[Any], dict[str, Any]] | None = None,
    describe: Callable[[Any], str] = str,
    form_kwargs: Callable[[Any], dict[str, Any]] | None = None,
    version: Callable[[Any], int] | None = None,
) -> HttpResponse | None:
    """An action on exactly one row that first asks for input on an intermediate page,
    then calls ``run(row, cleaned_data)`` (a command).

    ``version``: the version of the stream the command writes, as the page was shown; it
    comes back as ``cleaned_data["expected_version"]``, so that a change somebody made
    meanwhile refuses the command instead of being silently overwritten. (Optional, as
    ``If-Match`` is in the API: a page always sends it.)"""
    if queryset.count() != 1:
        modeladmin.message_user(
            request, "Select exactly one row for this action.", messages.WARNING
        )
        return None
    obj = queryset.get()
    form = form_class(
        request.POST if "apply" in request.POST else None,
        initial=initial(obj) if initial else None,
        **(form_kwargs(obj) if form_kwargs else {}),
    )
    if version is not None:
        form.fields["expected_version"] = forms.IntegerField(
            widget=forms.HiddenInput, required=False, min_value=0, initial=version(obj)
        )
    if form.is_valid():
        try:
            run(obj, form.cleaned_data)
        except ConcurrencyError:
            modeladmin.message_user(
                request,
                f"{describe(obj)} changed while this page was open: nothing was saved. "
                "Look at it again, then retry.",
                messages.ERROR,
            )
        except WRITE_ERRORS as exc:
            _fail(modeladmin, request, exc)
        else:
            modeladmin.message_user(request, f"{describe(obj)}: done.")
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": f"{describe(obj)}: {title}",
        "description": describe(obj) + ".",
        "match": obj if isinstance(obj, Match) else None,
        "object_pk": obj.pk,
        "form": form,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/championships/action_form.html", context)


# --- championships ------------------------------------------------------------------


class ChampionshipForm(forms.ModelForm):
    tie_break_preset = forms.ChoiceField(
        choices=[(name, name) for name in sorted(PRESETS)],
        initial=DEFAULT_PRESET,
        help_text="Tie-break criteria, in the order of these published regulations.",
    )
    # The version the form was read at: a save after someone else's change is refused.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    add_organiser = forms.CharField(
        required=False, help_text="Username of a user to add as a co-organiser."
    )
    remove_organisers = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Co-organisers to remove.",
    )

    class Meta:
        model = Championship
        fields = [
            "name",
            "season",
            "format",
            "points_win",
            "points_draw",
            "points_loss",
            "visibility",
            "withdrawal_policy",
            "withdrawal_award_for",
            "withdrawal_award_against",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per form instance (self.fields is a copy): a class-level field shared between
        # requests must never carry one championship's values into another's form.
        championship = (
            self.instance if self.instance.pk and not self.instance._state.adding else None
        )
        if championship is not None:
            self.fields["tie_break_preset"].initial = (
                championship.tie_break_preset or DEFAULT_PRESET
            )
            self.fields["version"].initial = championship.version
            organisers = self.fields["remove_organisers"]
            assert isinstance(organisers, forms.ModelMultipleChoiceField)
            organisers.queryset = championship.organisers.all()
        else:
            self.fields["tie_break_preset"].initial = DEFAULT_PRESET

    def clean_add_organiser(self) -> Any:
        username = self.cleaned_data["add_organiser"].strip()
        if not username:
            return None
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"no active user named {username!r}")
        return user


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TeamInline(ReadOnlyInline):
    model = Team
    fields = ("name", "group", "withdrawn", "points_deducted")
    readonly_fields = fields


class KnockoutRulesInline(ReadOnlyInline):
    model = KnockoutRules
    fields = ("seeding", "third_place_match", "qualifiers_per_group", "knockout_slots", "legs")
    readonly_fields = fields


class DrawForm(forms.Form):
    """The options of a bracket draw (``knockout`` and ``groups_knockout``)."""

    seeding = forms.ChoiceField(choices=[(s, s) for s in SEEDINGS], initial="bracket")
    third_place_match = forms.BooleanField(required=False)
    legs = forms.TypedChoiceField(
        choices=[(1, "one match"), (2, "two legs")],
        coerce=int,
        initial=1,
        help_text="Every round but the final.",
    )
    away_goals = forms.BooleanField(required=False, help_text="Two legs: away goals count.")
    qualifiers_per_group = forms.IntegerField(min_value=1, max_value=64, initial=2)
    knockout_slots = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="groups_knockout: the qualifiers in bracket order, e.g. 1A 2B 1B 2A, or "
        "one per line when group names hold spaces (empty: the default pattern).",
    )

    def draw_options(self) -> DrawOptions:
        data = self.cleaned_data
        # Group names may hold spaces or commas ("1Group A"): one per line then.
        slots = _listed(data["knockout_slots"], on_one_line=r"[\s,]+")
        return DrawOptions(
            seeding=data["seeding"],
            third_place_match=data["third_place_match"],
            legs=data["legs"],
            away_goals=data["away_goals"],
            qualifiers_per_group=data["qualifiers_per_group"],
            knockout_slots=slots or None,
        )


class LotsForm(forms.Form):
    """The order lots gave among teams level on every tie-break criterion."""

    group = forms.CharField(max_length=20, required=False, help_text="Empty outside groups.")
    teams = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The tied teams' names in the order drawn, best first: one per line (or, "
        "on one line, separated by commas).",
    )


class MatchInline(ReadOnlyInline):
    model = Match
    verbose_name_plural = "matches"
    fields = ("round", "group", "fixture", "status", "score", "kickoff", "version")
    readonly_fields = fields
    ordering = ("group", "round", "kickoff", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Match]:
        return super().get_queryset(request).select_related("home_team", "away_team")

    @admin.display(description="Match")
    def fixture(self, obj: Match) -> SafeString:
        link = reverse("admin:championships_match_change", args=[obj.pk])
        return format_html('<a href="{}">{} vs {}</a>', link, obj.home_team, obj.away_team)

    @admin.display(description="Score")
    def score(self, obj: Match) -> str:
        return score_text(obj)


def score_text(match: Match) -> str:
    if match.status in (MatchStatus.SCHEDULED, MatchStatus.POSTPONED, MatchStatus.CANCELLED):
        return "-"
    return f"{match.home_score}-{match.away_score}"


@admin.register(Championship)
class ChampionshipAdmin(admin.ModelAdmin):
    form = ChampionshipForm
    list_display = ("name", "season", "format", "owner", "teams_count", "fixtures_generated")
    list_filter = ("format", "season", "fixtures_generated")
    search_fields = ("name", "season")
    inlines = (TeamInline, MatchInline)
    actions = ("generate_fixtures", "rebuild_standings", "draw_bracket", "draw_lots")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Championship]:
        return super().get_queryset(request).filter(organised(request)).distinct()

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[type[Any]]:
        inlines: list[type[Any]] = list(self.inlines)
        if obj is not None and KnockoutRules.objects.filter(championship=obj).exists():
            inlines.insert(0, KnockoutRulesInline)  # a drawn bracket's rules
        return inlines

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("format", "owner", "organiser_names", "tie_breakers", "event_history")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields: list[Any] = ["name", "season", "format", "points_win", "points_draw", "points_loss"]
        fields += ["tie_break_preset", "visibility", "withdrawal_policy"]
        fields += ["withdrawal_award_for", "withdrawal_award_against", "version"]
        if obj is not None:
            fields += ["owner", "organiser_names", "add_organiser", "remove_organisers"]
            fields += ["tie_breakers", "event_history"]
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # no command deletes a championship: its events stay

    @admin.display(description="Teams")
    def teams_count(self, obj: Championship) -> int:
        return obj.teams.count()

    @admin.display(description="Co-organisers")
    def organiser_names(self, obj: Championship) -> str:
        return ", ".join(u.get_username() for u in obj.organisers.all()) or "-"

    @admin.display(description="Event history")
    def event_history(self, obj: Championship) -> SafeString:
        link = reverse("admin:championships_championship_events", args=[obj.pk])
        return format_html('<a href="{}">Events of this championship and its matches</a>', link)

    # Writes: the commands, never a blind save.

    def save_model(self, request: HttpRequest, obj: Championship, form: Any, change: bool) -> None:
        data = form.cleaned_data
        award = (data["withdrawal_award_for"], data["withdrawal_award_against"])
        if not change:
            commands.championship_create(
                actor_id=_actor(request),
                championship_id=obj.id,
                name=data["name"],
                season=data["season"],
                format=data["format"],
                points_win=data["points_win"],
                points_draw=data["points_draw"],
                points_loss=data["points_loss"],
                tie_breakers=data["tie_break_preset"],
                visibility=data["visibility"],
                withdrawal_policy=data["withdrawal_policy"],
                award_score=award,
            )
            return
        names = {
            "points_win",
            "points_draw",
            "points_loss",
            "name",
            "season",
            "visibility",
            "withdrawal_policy",
        }
        changes = {name: data[name] for name in form.changed_data if name in names}
        if "tie_break_preset" in form.changed_data:
            changes["tie_breakers"] = data["tie_break_preset"]
        if {"withdrawal_award_for", "withdrawal_award_against"} & set(form.changed_data):
            changes["award_score"] = award
        expected = data.get("version")
        if changes:
            commands.championship_update(
                actor_id=_actor(request),
                championship_id=obj.id,
                expected_version=expected,
                **changes,
            )
            expected = None
        if data.get("add_organiser") is not None:
            commands.championship_add_organiser(
                actor_id=_actor(request),
                championship_id=obj.id,
                user_id=data["add_organiser"].pk,
                expected_version=expected,
            )
            expected = None
        for user in data.get("remove_organisers") or ():
            commands.championship_remove_organiser(
                actor_id=_actor(request),
                championship_id=obj.id,
                user_id=user.pk,
                expected_version=expected,
            )
            expected = None

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Teams and matches are read-only here: nothing is saved (``commit=False`` only
        lists the unchanged rows, for the admin's change message)."""
        for formset in formsets:
            formset.save(commit=False)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except WRITE_ERRORS as exc:
            _fail(self, request, exc)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Generate fixtures (round robin)", permissions=["change"])
    def generate_fixtures(self, request: HttpRequest, queryset: QuerySet[Championship]) -> None:
        for championship in queryset:
            if championship.format in BRACKET_FORMATS:
                # Drawn with options (seeding, legs, slots) that this one-click action
                # would silently leave at their defaults, for good.
                self.message_user(
                    request,
                    f"{championship}: a bracket format: use “Draw the bracket…”, which asks "
                    "for the draw's options.",
                    messages.ERROR,
                )
                continue
            try:
                matches = commands.fixtures_generate(
                    actor_id=_actor(request), championship_id=championship.id
                )
            except WRITE_ERRORS as exc:
                _fail(self, request, exc)
            else:
                self.message_user(request, f"{championship}: {len(matches)} matches scheduled.")

    @admin.action(description="Rebuild the standings from the event store", permissions=["change"])
    def rebuild_standings(self, request: HttpRequest, queryset: QuerySet[Championship]) -> None:
        for championship in queryset:
            replayed = projections.rebuild_standings(championship.id)
            self.message_user(request, f"{championship}: {replayed} events replayed.")

    @admin.action(description="Draw the bracket (knockout formats)…", permissions=["change"])
    def draw_bracket(
        self, request: HttpRequest, queryset: QuerySet[Championship]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one championship to draw.", messages.WARNING)
            return None
        championship = queryset.get()
        form = DrawForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                matches = commands.fixtures_generate(
                    actor_id=_actor(request),
                    championship_id=championship.id,
                    draw=form.draw_options(),
                )
            except WRITE_ERRORS as exc:
                _fail(self, request, exc)
            else:
                self.message_user(request, f"{championship}: {len(matches)} matches scheduled.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{championship}: draw the bracket",
            "description": f"{championship} ({championship.get_format_display()}): every "
            "match of the bracket is scheduled now, later teams to be decided by the results.",
            "object_pk": championship.pk,
            "form": form,
            "action": "draw_bracket",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/championships/action_form.html", context)

    @admin.action(description="Record a drawing of lots…", permissions=["change"])
    def draw_lots(
        self, request: HttpRequest, queryset: QuerySet[Championship]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one championship.", messages.WARNING)
            return None
        championship = queryset.get()
        form = LotsForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            by_name = {t.name.casefold(): t.id for t in championship.teams.all()}
            names = _listed(form.cleaned_data["teams"], on_one_line=",")
            unknown = [n for n in names if n.casefold() not in by_name]
            if unknown:
                self.message_user(request, f"Unknown teams: {', '.join(unknown)}", messages.ERROR)
                return None
            try:
                commands.championship_draw_lots(
                    actor_id=_actor(request),
                    championship_id=championship.id,
                    group=form.cleaned_data["group"].strip(),
                    team_ids=[by_name[n.casefold()] for n in names],
                )
            except WRITE_ERRORS as exc:
                _fail(self, request, exc)
            else:
                self.message_user(request, f"{championship}: lots recorded.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{championship}: record a drawing of lots",
            "description": f"{championship}: the order lots gave among teams level on every "
            "tie-break criterion (they share a place in the table until then).",
            "object_pk": championship.pk,
            "form": form,
            "action": "draw_lots",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/championships/action_form.html", context)

    # The event history page.

    def get_urls(self) -> list[URLPattern]:
        history = self.admin_site.admin_view(self.event_history_view)
        return [
            path("<path:object_id>/events/", history, name="championships_championship_events"),
            *super().get_urls(),
        ]

    def event_history_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        championship = get_object_or_404(self.get_queryset(request), pk=_uuid_or_404(object_id))
        if not self.has_view_or_change_permission(request, championship):
            return HttpResponseRedirect(reverse("admin:index"))
        after = request.GET.get("after", "")
        after_position = int(after) if after.isascii() and after.isdigit() else 0
        # One more than a page: whether there is a next one.
        recorded = championship_events(
            championship_id=championship.id,
            after=after_position,
            limit=EVENT_HISTORY_PAGE + 1,
        )
        more = len(recorded) > EVENT_HISTORY_PAGE
        recorded = recorded[:EVENT_HISTORY_PAGE]
        rows = [
            {"event": r, "payload": json.dumps(r.envelope()["payload"], indent=1, sort_keys=True)}
            for r in recorded
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": championship,
            "title": f"Event history: {championship}",
            "rows": rows,
            "first_page": after_position == 0,
            "next_after": recorded[-1].feed_position if more else None,
        }
        return TemplateResponse(
            request, "admin/championships/championship/event_history.html", context
        )


def _uuid_or_404(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise Http404(f"championship {value} does not exist") from None


# --- matches ------------------------------------------------------------------------


class ScoreForm(forms.Form):
    home_score = forms.IntegerField(min_value=0, max_value=MAX_SCORE)
    away_score = forms.IntegerField(min_value=0, max_value=MAX_SCORE)
    # Knockout matches only (the command refuses them elsewhere).
    extra_time = forms.BooleanField(required=False, help_text="Knockout: scores after extra time.")
    penalties_home = forms.IntegerField(min_value=0, max_value=99, required=False)
    penalties_away = forms.IntegerField(min_value=0, max_value=99, required=False)

    def clean(self) -> dict[str, Any]:
        """The command's arguments: ``penalties`` as (home, away) or None."""
        data = super().clean() or {}
        home, away = data.pop("penalties_home", None), data.pop("penalties_away", None)
        if (home is None) != (away is None):
            raise forms.ValidationError("Give both penalty scores, or neither.")
        data["penalties"] = None if home is None else (home, away)
        return data


class CardForm(forms.Form):
    team_id = forms.TypedChoiceField(label="Team", coerce=UUID)
    player = forms.CharField(max_length=100)
    minute = forms.IntegerField(min_value=0, max_value=150)
    card = forms.ChoiceField(choices=[(c, c.replace("_", " ")) for c in CARD_KINDS])

    def __init__(self, *args: Any, match: Match, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = [t for t in (match.home_team, match.away_team) if t is not None]
        self.fields["team_id"].choices = [(str(t.id), t.name) for t in teams]  # type: ignore[attr-defined]


class CorrectionForm(ScoreForm):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class KickoffForm(forms.Form):
    kickoff = forms.DateTimeField(required=False, help_text="Empty: to be fixed.")


class PostponeForm(KickoffForm):
    reason = forms.CharField(max_length=500, required=False)


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = ("fixture", "championship", "group", "round", "status", "score", "kickoff")
    list_filter = ("status", "stage", "round")
    list_select_related = ("home_team", "away_team", "championship")
    search_fields = ("home_team__name", "away_team__name", "championship__name")
    actions = (
        "start",
        "complete_with_score",
        "correct_with_reason",
        "postpone",
        "reschedule",
        "swap_venues",
        "show_card",
    )
    fields = (
        "championship",
        "group",
        "round",
        "home_team",
        "away_team",
        "status",
        "score",
        "minute",
        "kickoff",
        "awarded_to",
        "stage",
        "bracket_round",
        "leg",
        "extra_time",
        "penalties_home",
        "penalties_away",
        "version",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Match]:
        visible = Championship.objects.filter(organised(request))
        return super().get_queryset(request).filter(championship__in=visible)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # schedule matches with fixtures or the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The row is the aggregate's state: it changes through the actions' commands only.
        # A change page that could be saved wrote back every column as read, over any
        # command committed meanwhile (the row then lagged its stream for good).
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Match")
    def fixture(self, obj: Match) -> str:
        return f"{obj.home_team} vs {obj.away_team}"

    @admin.display(description="Score")
    def score(self, obj: Match) -> str:
        return score_text(obj)

    @admin.action(description="Show a card…", permissions=["change"])
    def show_card(self, request: HttpRequest, queryset: QuerySet[Match]) -> HttpResponse | None:
        return self._with_form(
            request, queryset, CardForm, "show_card", "show a card", commands.match_show_card
        )

    def _run(
        self, request: HttpRequest, match: Match, command: Callable[..., Match], **kwargs: Any
    ) -> None:
        try:
            command(
                actor_id=_actor(request),
                championship_id=match.championship_id,
                match_id=match.id,
                **kwargs,
            )
        except WRITE_ERRORS as exc:
            _fail(self, request, exc)
        else:
            self.message_user(request, f"{self.fixture(match)}: done.")

    @admin.action(description="Start (kick off)", permissions=["change"])
    def start(self, request: HttpRequest, queryset: QuerySet[Match]) -> None:
        for match in queryset:
            self._run(request, match, commands.match_start)

    @admin.action(description="Complete with a score…", permissions=["change"])
    def complete_with_score(
        self, request: HttpRequest, queryset: QuerySet[Match]
    ) -> HttpResponse | None:
        return self._with_form(
            request,
            queryset,
            ScoreForm,
            "complete_with_score",
            "final score",
            commands.match_complete,
        )

    @admin.action(description="Correct the result (with a reason)…", permissions=["change"])
    def correct_with_reason(
        self, request: HttpRequest, queryset: QuerySet[Match]
    ) -> HttpResponse | None:
        return self._with_form(
            request,
            queryset,
            CorrectionForm,
            "correct_with_reason",
            "correct the result",
            commands.match_correct_result,
        )

    def _with_form(
        self,
        request: HttpRequest,
        queryset: QuerySet[Match],
        form_class: type[forms.Form],
        action: str,
        title: str,
        command: Callable[..., Match],
    ) -> HttpResponse | None:
        """An intermediate page asks for the input (score, reason, kickoff) of one match."""

        def run(match: Match, data: dict[str, Any]) -> None:
            command(
                actor_id=_actor(request),
                championship_id=match.championship_id,
                match_id=match.id,
                **data,
            )

        return action_form(
            self,
            request,
            queryset,
            form_class=form_class,
            action=action,
            title=title,
            run=run,
            initial=lambda m: {
                "home_score": m.home_score,
                "away_score": m.away_score,
                "extra_time": m.extra_time,
                "penalties_home": m.penalties_home,
                "penalties_away": m.penalties_away,
                "kickoff": m.kickoff,
            },
            describe=self.fixture,
            # A card's team is one of the match's.
            form_kwargs=(lambda m: {"match": m}) if form_class is CardForm else None,
            version=lambda m: m.version,
        )

    @admin.action(description="Reschedule (a new kickoff)…", permissions=["change"])
    def reschedule(self, request: HttpRequest, queryset: QuerySet[Match]) -> HttpResponse | None:
        return self._with_form(
            request, queryset, KickoffForm, "reschedule", "new kickoff", commands.match_reschedule
        )

    @admin.action(description="Postpone (optionally with a new kickoff)…", permissions=["change"])
    def postpone(self, request: HttpRequest, queryset: QuerySet[Match]) -> HttpResponse | None:
        return self._with_form(
            request, queryset, PostponeForm, "postpone", "postpone", commands.match_postpone
        )

    @admin.action(description="Swap home and away (before kickoff)", permissions=["change"])
    def swap_venues(self, request: HttpRequest, queryset: QuerySet[Match]) -> None:
        for match in queryset:
            self._run(request, match, commands.match_swap_venues)


# --- teams and deductions -----------------------------------------------------------


class TeamForm(forms.ModelForm):
    # The championship's version when the page was shown (teams are written to its
    # stream): a rename over somebody else's change is refused, not silently applied.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    class Meta:
        model = Team
        fields = ["championship", "name", "group"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.instance._state.adding:
            self.fields["version"].initial = self.instance.championship.version


class WithdrawForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False)


class DeductionForm(forms.Form):
    points = forms.IntegerField(min_value=1, max_value=MAX_DEDUCTION)
    reason = forms.CharField(max_length=500)
    effective_at = forms.DateTimeField(required=False, help_text="Empty: now.")


class AmendForm(DeductionForm):
    points = forms.IntegerField(
        min_value=0, max_value=MAX_DEDUCTION, help_text="The new number; 0 withdraws it."
    )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Register, rename, move (before fixtures), remove (before fixtures), withdraw and
    deduct points: each through its command."""

    form = TeamForm
    list_display = ("name", "championship", "group", "withdrawn", "points_deducted")
    list_filter = ("withdrawn", "group")
    list_select_related = ("championship",)
    search_fields = ("name", "championship__name")
    actions = ("withdraw", "deduct_points")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        visible = Championship.objects.filter(organised(request))
        return super().get_queryset(request).filter(championship__in=visible)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("championship", "withdrawn", "points_deducted")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "championship":
            kwargs["queryset"] = Championship.objects.filter(organised(request)).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Team, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            commands.team_register(
                actor_id=_actor(request),
                championship_id=data["championship"].id,
                team_id=obj.id,
                name=data["name"],
                group=data.get("group") or "",
            )
            return
        changes = {name: data[name] for name in ("name", "group") if name in form.changed_data}
        if changes:
            commands.team_update(
                actor_id=_actor(request),
                championship_id=obj.championship_id,
                team_id=obj.id,
                expected_version=data.get("version"),
                **changes,
            )

    def delete_model(self, request: HttpRequest, obj: Team) -> None:
        commands.team_remove(
            actor_id=_actor(request), championship_id=obj.championship_id, team_id=obj.id
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        for team in queryset:
            self.delete_model(request, team)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except WRITE_ERRORS as exc:
            _fail(self, request, exc)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except WRITE_ERRORS as exc:
            _fail(self, request, exc)
            return HttpResponseRedirect(reverse("admin:championships_team_changelist"))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().changelist_view(request, extra_context)
        except WRITE_ERRORS as exc:  # bulk delete of a team that has matches
            _fail(self, request, exc)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Withdraw (under the championship's policy)…", permissions=["change"])
    def withdraw(self, request: HttpRequest, queryset: QuerySet[Team]) -> HttpResponse | None:
        return action_form(
            self,
            request,
            queryset,
            form_class=WithdrawForm,
            action="withdraw",
            title="withdraw",
            run=lambda team, data: commands.team_withdraw(
                actor_id=_actor(request),
                championship_id=team.championship_id,
                team_id=team.id,
                reason=data["reason"],
                expected_version=data.get("expected_version"),
            ),
            version=_championship_version,
        )

    @admin.action(description="Deduct points…", permissions=["change"])
    def deduct_points(self, request: HttpRequest, queryset: QuerySet[Team]) -> HttpResponse | None:
        return action_form(
            self,
            request,
            queryset,
            form_class=DeductionForm,
            action="deduct_points",
            title="deduct points",
            run=lambda team, data: commands.team_deduct_points(
                actor_id=_actor(request),
                championship_id=team.championship_id,
                team_id=team.id,
                **data,
            ),
            version=_championship_version,
        )


class DeductionChangeInline(ReadOnlyInline):
    model = DeductionChange
    fields = ("sequence", "points", "reason", "effective_at", "recorded_at")
    readonly_fields = fields
    verbose_name_plural = "history (0: as first recorded)"


@admin.register(Deduction)
class DeductionAdmin(admin.ModelAdmin):
    """Deductions are recorded from the teams (action "Deduct points…") and amended
    here; rows are read-only, the original stays in the history."""

    list_display = ("team", "championship", "points", "reason", "effective_at", "recorded_at")
    list_select_related = ("team", "championship")
    search_fields = ("team__name", "championship__name", "reason")
    fields = ("championship", "team", "points", "reason", "effective_at", "recorded_at")
    readonly_fields = fields
    inlines = (DeductionChangeInline,)
    actions = ("amend",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Deduction]:
        visible = Championship.objects.filter(organised(request))
        return super().get_queryset(request).filter(championship__in=visible)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Amended through the action only: the change page is for reading (see MatchAdmin).
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # amend to 0 instead: the history stays

    @admin.action(description="Amend (e.g. on appeal; 0 withdraws it)…", permissions=["change"])
    def amend(self, request: HttpRequest, queryset: QuerySet[Deduction]) -> HttpResponse | None:
        return action_form(
            self,
            request,
            queryset,
            form_class=AmendForm,
            action="amend",
            title="amend the deduction",
            run=lambda deduction, data: commands.deduction_amend(
                actor_id=_actor(request),
                championship_id=deduction.championship_id,
                deduction_id=deduction.id,
                **data,
            ),
            initial=lambda d: {"points": d.points, "reason": d.reason},
            version=_championship_version,
        )


# --- player statistics (read-only: the projection) ----------------------------------


@admin.register(PlayerMatchStat)
class PlayerMatchStatAdmin(admin.ModelAdmin):
    """Goals and cards per player per match, as the player statistics projection holds
    them (rebuildable; cards are shown with the match action "Show a card")."""

    list_display = ("player", "team_id", "match_id", "goals", "yellow", "second_yellow", "red")
    search_fields = ("player",)
    readonly_fields = [f.name for f in PlayerMatchStat._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PlayerMatchStat]:
        visible = Championship.objects.filter(organised(request)).values("id")
        return super().get_queryset(request).filter(championship_id__in=visible)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
