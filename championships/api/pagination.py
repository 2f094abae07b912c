from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """``?limit=&offset=``: 50 by default, at most 200 (a huge limit is clamped)."""

    default_limit = 50
    max_limit = 200
