"""The demo clinic's email by session number: "after the 1st session". DEMO ONLY.

Looked up by its number (a rule for every service) and created only when missing, so running the seed again creates
nothing and an editor's changes stay.
"""

from booking.notifications.web_models import SessionNumberRule

FIRST_SESSION_RULE = {
    "name": "Bienvenida después de la primera sesión",
    "session_number": 1,
    "message_es": (
        "Gracias por confiar en nosotros para tu primera sesión. Si tienes dudas sobre cómo seguir, responde a "
        "este correo o escríbenos desde tu portal: te ayudamos a agendar la próxima cuando quieras."
    ),
    "message_en": (
        "Thank you for trusting us with your first session. If you have questions about what comes next, reply "
        "to this email or write to us from your portal: we will help you book the next one whenever you like."
    ),
}


def create_demo_session_number_rules() -> list[SessionNumberRule]:
    rule, _created = SessionNumberRule.objects.get_or_create(
        service=None,
        session_number=FIRST_SESSION_RULE["session_number"],
        defaults={key: value for key, value in FIRST_SESSION_RULE.items() if key != "session_number"},
    )
    return [rule]
