from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 (a bad Host header, a suspicious request) in JSON under /api/, as
    every other answer there; the stock page elsewhere."""
    if not request.path_info.startswith("/api/"):
        return bad_request(request, exception)  # type: ignore[arg-type]
    if isinstance(exception, DisallowedHost):
        detail = "the Host header names no host this server answers for (ALLOWED_HOSTS)"
    else:
        detail = "bad request"
    return JsonResponse({"detail": detail}, status=400)
