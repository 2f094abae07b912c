from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from championships.api.converters import UserIdConverter, UUIDConverter
from championships.api.views import bracket as b
from championships.api.views import championships as c
from championships.api.views import deductions as d
from championships.api.views import matches as m
from championships.api.views import reads as r
from championships.api.views import stats as st
from championships.api.views import stream
from championships.api.views import teams as t
from championships.api.views.auth import TokenRevokeView, TokenView
from championships.api.views.base import not_found

register_converter(UUIDConverter, "id")
register_converter(UserIdConverter, "user")

app_name = "api"

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("auth/token/revoke/", TokenRevokeView.as_view(), name="token-revoke"),
    path("championships/", c.ChampionshipListView.as_view(), name="championship-list"),
    path("championships/<id:pk>/", c.ChampionshipDetailView.as_view(), name="championship-detail"),
    path("championships/<id:pk>/organisers/", c.OrganiserAddView.as_view(), name="organisers"),
    path("championships/<id:pk>/bracket/", b.BracketView.as_view(), name="bracket"),
    path("championships/<id:pk>/scorers/", st.ScorersView.as_view(), name="scorers"),
    path("championships/<id:pk>/cards/", st.CardsView.as_view(), name="cards"),
    path("championships/<id:pk>/lots/", st.LotsView.as_view(), name="lots"),
    path(
        "championships/<id:pk>/organisers/<user:user>/",
        t.OrganiserRemoveView.as_view(),
        name="organiser-detail",
    ),
    path("championships/<id:pk>/teams/", c.TeamListView.as_view(), name="team-list"),
    path("championships/<id:pk>/teams/<id:team>/", t.TeamDetailView.as_view(), name="team-detail"),
    path(
        "championships/<id:pk>/teams/<id:team>/withdraw/",
        t.TeamWithdrawView.as_view(),
        name="team-withdraw",
    ),
    path("championships/<id:pk>/deductions/", d.DeductionListView.as_view(), name="deductions"),
    path("deductions/<id:pk>/amend/", d.DeductionAmendView.as_view(), name="deduction-amend"),
    path("championships/<id:pk>/fixtures/", c.FixturesGenerateView.as_view(), name="fixtures"),
    path("championships/<id:pk>/matches/", c.MatchListView.as_view(), name="match-list"),
    path("championships/<id:pk>/standings/", r.StandingsView.as_view(), name="standings"),
    path("championships/<id:pk>/events/", r.EventFeedView.as_view(), name="events"),
    path(
        "championships/<id:pk>/fixtures.ics",
        r.FixturesICalendarView.as_view(),
        name="fixtures-ics",
    ),
    path("championships/<id:pk>/fixtures.csv", r.FixturesCSVView.as_view(), name="fixtures-csv"),
    path("championships/<id:pk>/standings.csv", r.StandingsCSVView.as_view(), name="standings-csv"),
    path("matches/<id:pk>/", m.MatchDetailView.as_view(), name="match-detail"),
    path("matches/<id:pk>/stream/", stream.match_stream, name="match-stream"),
    path("matches/<id:pk>/start/", m.MatchStartView.as_view(), name="match-start"),
    path("matches/<id:pk>/goals/", m.MatchGoalView.as_view(), name="match-goals"),
    path("matches/<id:pk>/clock/", m.MatchClockView.as_view(), name="match-clock"),
    path("matches/<id:pk>/complete/", m.MatchCompleteView.as_view(), name="match-complete"),
    path("matches/<id:pk>/correct/", m.MatchCorrectView.as_view(), name="match-correct"),
    path("matches/<id:pk>/postpone/", m.MatchPostponeView.as_view(), name="match-postpone"),
    path("matches/<id:pk>/cancel/", m.MatchCancelView.as_view(), name="match-cancel"),
    path("matches/<id:pk>/cards/", st.MatchCardView.as_view(), name="match-cards"),
    path("matches/<id:pk>/award/", m.MatchAwardView.as_view(), name="match-award"),
    path("matches/<id:pk>/reschedule/", m.MatchRescheduleView.as_view(), name="match-reschedule"),
    path("matches/<id:pk>/swap/", m.MatchSwapView.as_view(), name="match-swap"),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Last: every other /api/v1/ URL (a malformed id too) is a JSON 404.
    re_path(r"^.*$", not_found, name="not-found"),
]
