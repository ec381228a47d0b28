"""Account URLs of our own; allauth's are included right after these in website/urls.py."""

urlpatterns = []
