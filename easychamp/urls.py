from django.contrib import admin
from django.urls import include, path

from championships import views as championship_views
from championships.api.throttling import limit_sign_ins
from easychamp import views
from sagas import views as saga_views

handler400 = "easychamp.views.handler400"
handler500 = "easychamp.unavailable.handler500"

admin.site.site_header = "EasyChamp organisers"
admin.site.site_title = "EasyChamp"
admin.site.index_title = "Championships, event log and deliveries"

urlpatterns = [
    path("", championship_views.championship_index, name="home"),
    path(
        "championships/<uuid:championship_id>/",
        championship_views.championship_detail,
        name="championship-detail",
    ),
    path(
        "championships/<uuid:championship_id>/tables/",
        championship_views.championship_tables,
        name="championship-tables",
    ),
    path(
        "championships/<uuid:championship_id>/bracket/",
        championship_views.championship_bracket,
        name="championship-bracket",
    ),
    path("matches/<uuid:match_id>/", championship_views.match_detail, name="match-detail"),
    path(
        "matches/<uuid:match_id>/scoreboard/",
        championship_views.match_scoreboard,
        name="match-scoreboard",
    ),
    path(
        "matches/<uuid:match_id>/fixture/", championship_views.match_fixture, name="match-fixture"
    ),
    path(
        "embed/championships/<uuid:championship_id>/standings/",
        championship_views.embed_standings,
        name="embed-standings",
    ),
    path("embed/matches/<uuid:match_id>/", championship_views.embed_match, name="embed-match"),
    path("signup/", limit_sign_ins(saga_views.signup), name="signup"),
    path("signup/done/", saga_views.signup_done, name="signup-done"),
    path("healthz", views.healthz, name="healthz"),
    # The admin's sign-in, its attempts counted with the API's (before admin.site.urls).
    path("admin/login/", limit_sign_ins(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("sagas.api.urls")),
    path("api/v1/", include("championships.api.urls")),
    path("", include("django_prometheus.urls")),
]
