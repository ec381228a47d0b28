"""The demo clinic's email by session number: "after the 1st session". DEMO ONLY.

Looked up by its number (a rule for every service) and created only when missing, so running the seed again creates
nothing and an editor's changes stay.
"""

from booking.notifications.web_models import SessionNumberRule

FIRST_SESSION_RULE = {"name": "Bienvenida después de la primera sesión", "session_number": 1}


def create_demo_session_number_rules() -> list[SessionNumberRule]:
    rule, _created = SessionNumberRule.objects.get_or_create(
        service=None,
        session_number=FIRST_SESSION_RULE["session_number"],
        defaults={"name": FIRST_SESSION_RULE["name"], "active": True},
    )
    return [rule]
