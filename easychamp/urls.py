from django.contrib import admin
from django.urls import include, path

from easychamp import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("championships.api.urls")),
    path("", include("django_prometheus.urls")),
]
