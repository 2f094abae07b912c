"""The REST API for mobile clients, mounted at ``/api/v1/``.

Views are adapters: parse the request, call one command or selector, render. Domain
errors become HTTP statuses in one place (``errors.exception_handler``); ETags are
stream versions (``etags``); POSTs may carry an ``Idempotency-Key`` (``idempotency``);
standings and match reads go through a version-keyed cache (``caching``).
"""
