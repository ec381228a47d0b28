from django.urls import path

from . import (
    billing_views,
    document_views,
    pack_views,
    privacy_views,
    professional_views,
    session_views,
    video_views,
    views,
)

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/feed/<slug:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("appointments/<slug:reference>/calendar.ics", views.appointment_calendar, name="appointment_calendar"),
    path("invoices/", billing_views.invoices, name="invoices"),
    path("invoices/<slug:reference>/", billing_views.invoice_detail, name="invoice_detail"),
    path("invoices/<slug:reference>/receipt.pdf", billing_views.invoice_receipt, name="invoice_receipt"),
    path("sessions/", session_views.sessions, name="sessions"),
    path("sessions/<slug:reference>/", session_views.session_detail, name="session_detail"),
    path("sessions/<slug:reference>/cancel/", session_views.session_cancel, name="session_cancel"),
    path("sessions/<slug:reference>/reschedule/", session_views.session_reschedule, name="session_reschedule"),
    path("video/<slug:reference>/", video_views.video_page, name="video"),
    path("packs/", pack_views.packs, name="packs"),
    path("profile/my-data/", privacy_views.my_data, name="privacy"),
    path("profile/my-data/export.json", privacy_views.export_json, name="privacy_export_json"),
    path("profile/my-data/export.pdf", privacy_views.export_pdf, name="privacy_export_pdf"),
    path("profile/my-data/close/", privacy_views.close_account, name="privacy_close"),
    path("documents/", document_views.documents, name="documents"),
    path("pro/today/", professional_views.today, name="pro_today"),
    path("pro/agenda/", professional_views.agenda, name="pro_agenda"),
    path("pro/patients/", professional_views.patients, name="pro_patients"),
    path("pro/patients/<int:patient_id>/", professional_views.patient_detail, name="pro_patient"),
    path("pro/sessions/<slug:reference>/", professional_views.session, name="pro_session"),
    path("pro/sessions/<slug:reference>/mark/", professional_views.mark, name="pro_mark"),
    path("pro/sessions/<slug:reference>/note/", professional_views.note_save, name="pro_note_save"),
    path("pro/sessions/<slug:reference>/note/amend/", professional_views.note_amend, name="pro_note_amend"),
    path("documents/<slug:reference>/download/", document_views.document_download, name="document_download"),
]
