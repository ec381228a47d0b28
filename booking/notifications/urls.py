"""The public pages behind the links of the clinic's emails, and Mailgun's signed tracking webhook.

Mounted at ``/notifications/`` (``website/urls.py``). The link pages take a signed token in the path
(``links.PATH``: ``/notifications/<purpose>/<token>/``); see ``views``. The webhook is anymail's own Mailgun
tracking view, which checks Mailgun's signature (``MAILGUN_WEBHOOK_SIGNING_KEY``) and answers 400 to anything
unsigned or badly signed; ``webhooks`` receives its events. Only Mailgun's view is routed, not all of
``anymail.urls``: the other providers' views are secured by a shared basic-auth secret this site does not set,
and would accept anyone's POST.
"""

from django.urls import path

from . import views, webhooks

app_name = "notifications"
urlpatterns = [
    path("confirm/<str:token>/", views.confirm_attendance, name="confirm_attendance"),
    path("cancel/<str:token>/", views.cancel_appointment, name="cancel"),
    path("preferences/", views.email_preferences, name="preferences"),
    path("daily-agenda/", views.daily_agenda, name="daily_agenda"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("mailgun/tracking/", webhooks.mailgun_tracking, name="mailgun_tracking"),
]
