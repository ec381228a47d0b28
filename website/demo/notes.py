"""The demo psychologist's session notes: signed notes on her last completed sessions, one with an amendment.
DEMO ONLY. Written through ``portal.records.notes`` (encrypted with the development key, access logged). Created
once per session: running the seed again adds nothing."""

from __future__ import annotations

import datetime

from booking.scheduling.models import Appointment, AppointmentStatus
from portal.records import notes
from portal.records.models import SessionNote

DEMO_PROFESSIONAL = "catalina-munoz"
TEXTS = (
    "Motivo de consulta: ansiedad asociada al trabajo. Refiere dificultad para conciliar el sueño. Se acuerdan "
    "registros de pensamientos automáticos y una técnica de respiración diafragmática para la semana.",
    "Revisamos los registros: identifica anticipación catastrófica los domingos por la tarde. Practicamos "
    "reestructuración cognitiva. Tarea: exposición gradual a la reunión semanal.",
    "Informa mejor calidad de sueño (6 h). Se trabaja en límites con el equipo. Próxima sesión: plan de "
    "prevención de recaídas.",
)


def create_demo_notes(*, now: datetime.datetime) -> int:
    sessions = list(
        Appointment.objects.filter(
            professional__slug=DEMO_PROFESSIONAL, status=AppointmentStatus.COMPLETED, end__lt=now, note__isnull=True
        )
        .select_related("professional__user")
        .order_by("-start")[: len(TEXTS)]
    )
    if not sessions or SessionNote.objects.filter(appointment__professional__slug=DEMO_PROFESSIONAL).exists():
        return 0
    for session, text in zip(reversed(sessions), TEXTS, strict=False):
        author = session.professional.user
        written = min(session.end + datetime.timedelta(minutes=15), now)
        note = notes.save_draft(appointment=session, author=author, text=text, now=written)
        notes.sign(note=note, author=author, now=written)
    first = SessionNote.objects.filter(appointment=sessions[-1]).first()
    if first is not None:
        notes.amend(
            note=first,
            author=first.author,
            text="Antecedente omitido: consultó por ansiedad en 2022, con buena respuesta a terapia breve.",
            reason="Antecedente que la paciente mencionó al final de la sesión",
            now=min(first.signed_at + datetime.timedelta(days=1), now),
        )
    return len(sessions)
