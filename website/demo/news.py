"""The demo's notices for professionals (the news area of their "Today"). DEMO ONLY; running the seed again adds
nothing."""

from __future__ import annotations

import datetime

from django.utils import timezone

from website.models import ProfessionalNews


def create_demo_news(*, now: datetime.datetime) -> int:
    today = timezone.localdate(now)
    notices = [
        (
            "Reunión clínica mensual",
            "<p>El <b>último jueves del mes</b> a las 13:00 en la sala de reuniones de Providencia. "
            "Trae un caso para revisar en equipo.</p>",
            today - datetime.timedelta(days=2),
            today + datetime.timedelta(days=20),
        ),
        (
            "Nuevas fichas encriptadas",
            "<p>Las notas de sesión se firman desde el portal. Después de firmar, los cambios quedan como "
            "enmiendas con fecha y motivo.</p>",
            today - datetime.timedelta(days=7),
            None,
        ),
    ]
    created = 0
    for title, body, show_from, show_until in notices:
        created += ProfessionalNews.objects.get_or_create(
            title=title, defaults={"body": body, "show_from": show_from, "show_until": show_until}
        )[1]
    return created
