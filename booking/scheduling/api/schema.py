"""OpenAPI generation hooks."""

API_PATH_PREFIX = "/api/v1/"


def only_public_api(endpoints):
    """Describe this API only: Wagtail's own admin API (also DRF) is not part of the public contract."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PATH_PREFIX)]
