"""The demo clinic's shared documents: the nutrition evaluation of each patient's first past nutrition consultation.
DEMO ONLY.

Shared through ``portal.records.services.share_document`` (the staff's path), so the patient's portal lists it and
the evaluation email is planned as it would be. The PDF is printed by WeasyPrint from a short made-up report.
Created once per session: running the seed again adds nothing.
"""

from __future__ import annotations

import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from booking.scheduling.models import Appointment, AppointmentStatus
from portal.records.models import DocumentKind, PatientDocument
from portal.records.services import share_document

NUTRITION_SERVICES = ("consulta-nutricional", "nutricion-deportiva", "bioimpedancia")
REPORT = """<html><body style="font-family: sans-serif; margin: 2cm">
<h1 style="font-size: 18pt">Evaluación nutricional</h1>
<p><strong>Paciente:</strong> {patient}<br><strong>Fecha:</strong> {day}<br>
<strong>Profesional:</strong> {professional}</p>
<h2 style="font-size: 13pt">Mediciones</h2>
<table style="border-collapse: collapse">
<tr><td style="padding: 4px 12px">Peso</td><td>64,2 kg</td></tr>
<tr><td style="padding: 4px 12px">Talla</td><td>1,65 m</td></tr>
<tr><td style="padding: 4px 12px">IMC</td><td>23,6</td></tr>
<tr><td style="padding: 4px 12px">Masa grasa</td><td>27 %</td></tr>
</table>
<h2 style="font-size: 13pt">Indicaciones</h2>
<ul><li>Tres comidas principales y dos colaciones.</li><li>Dos litros de agua al día.</li>
<li>Verduras en almuerzo y cena.</li></ul>
<p>Próximo control en cuatro semanas.</p>
</body></html>"""


def create_demo_documents(*, now: datetime.datetime) -> list[PatientDocument]:
    from weasyprint import HTML

    sessions = (
        Appointment.objects.filter(
            service__slug__in=NUTRITION_SERVICES,
            status=AppointmentStatus.COMPLETED,
            end__lt=now,
            documents__isnull=True,
        )
        .select_related("patient__user", "professional")
        .order_by("patient_id", "start")
    )
    shared, seen = [], set(PatientDocument.objects.values_list("patient_id", flat=True))
    for session in sessions:
        if session.patient_id in seen:
            continue
        seen.add(session.patient_id)
        day = session.start.date().isoformat()
        html = REPORT.format(
            patient=escape(session.patient.user.get_full_name()),
            day=day,
            professional=escape(session.professional.display_name),
        )
        upload = SimpleUploadedFile(f"evaluacion-{day}.pdf", HTML(string=html).write_pdf())
        shared.append(
            share_document(
                appointment=session,
                upload=upload,
                title="Evaluación nutricional",
                kind=DocumentKind.EVALUATION,
                message="Aquí están tus mediciones y las indicaciones que conversamos. ¡Nos vemos en el control!",
                actor=session.professional.user,
                now=min(session.end + datetime.timedelta(hours=3), now),
            )
        )
    return shared
