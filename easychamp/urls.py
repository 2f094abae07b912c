from django.contrib import admin
from django.urls import include, path

from easychamp import views

admin.site.site_header = "EasyChamp organisers"
admin.site.site_title = "EasyChamp"
admin.site.index_title = "Championships, event log and deliveries"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("championships.api.urls")),
    path("", include("django_prometheus.urls")),
]
