from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from championships.api.views import bracket as b
from championships.api.views import championships as c
from championships.api.views import matches as m
from championships.api.views import reads as r
from championships.api.views import stats as st
from championships.api.views import stream
from championships.api.views.auth import TokenRevokeView, TokenView

app_name = "api"

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("auth/token/revoke/", TokenRevokeView.as_view(), name="token-revoke"),
    path("championships/", c.ChampionshipListView.as_view(), name="championship-list"),
    path("championships/<str:pk>/", c.ChampionshipDetailView.as_view(), name="championship-detail"),
    path("championships/<str:pk>/organisers/", c.OrganiserAddView.as_view(), name="organisers"),
    path("championships/<str:pk>/teams/", c.TeamListView.as_view(), name="team-list"),
    path("championships/<str:pk>/fixtures/", c.FixturesGenerateView.as_view(), name="fixtures"),
    path("championships/<str:pk>/matches/", c.MatchListView.as_view(), name="match-list"),
    path("championships/<str:pk>/standings/", r.StandingsView.as_view(), name="standings"),
    path("championships/<str:pk>/bracket/", b.BracketView.as_view(), name="bracket"),
    path("championships/<str:pk>/scorers/", st.ScorersView.as_view(), name="scorers"),
    path("championships/<str:pk>/cards/", st.CardsView.as_view(), name="cards"),
    path("championships/<str:pk>/lots/", st.LotsView.as_view(), name="lots"),
    path("championships/<str:pk>/events/", r.EventFeedView.as_view(), name="events"),
    path(
        "championships/<str:pk>/fixtures.ics",
        r.FixturesICalendarView.as_view(),
        name="fixtures-ics",
    ),
    path("championships/<str:pk>/fixtures.csv", r.FixturesCSVView.as_view(), name="fixtures-csv"),
    path(
        "championships/<str:pk>/standings.csv", r.StandingsCSVView.as_view(), name="standings-csv"
    ),
    path("matches/<str:pk>/", m.MatchDetailView.as_view(), name="match-detail"),
    path("matches/<str:pk>/stream/", stream.match_stream, name="match-stream"),
    path("matches/<str:pk>/start/", m.MatchStartView.as_view(), name="match-start"),
    path("matches/<str:pk>/goals/", m.MatchGoalView.as_view(), name="match-goals"),
    path("matches/<str:pk>/clock/", m.MatchClockView.as_view(), name="match-clock"),
    path("matches/<str:pk>/complete/", m.MatchCompleteView.as_view(), name="match-complete"),
    path("matches/<str:pk>/correct/", m.MatchCorrectView.as_view(), name="match-correct"),
    path("matches/<str:pk>/postpone/", m.MatchPostponeView.as_view(), name="match-postpone"),
    path("matches/<str:pk>/cancel/", m.MatchCancelView.as_view(), name="match-cancel"),
    path("matches/<str:pk>/cards/", st.MatchCardView.as_view(), name="match-cards"),
    path("matches/<str:pk>/award/", m.MatchAwardView.as_view(), name="match-award"),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
