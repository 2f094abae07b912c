from django.urls import path

from sagas.api import views

app_name = "sagas_api"

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("me/", views.MeView.as_view(), name="me"),
    path("webhooks/payments/", views.payment_webhook, name="payment-webhook"),
    path(
        "championships/<str:pk>/entries/open/",
        views.EntriesOpenView.as_view(),
        name="entries-open",
    ),
    path("championships/<str:pk>/entries/", views.EntryRequestView.as_view(), name="entry-request"),
    path("entries/<str:pk>/", views.EntryDetailView.as_view(), name="entry-detail"),
]
