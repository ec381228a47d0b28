"""The patient's documents in the portal: what the clinic shared with them, and the CMS's patients-only resources.

A shared document is served only through ``document_download``, which looks it up among the logged-in patient's
own documents by its unguessable reference: anybody else's is a 404, so the address does not reveal that it
exists. The file goes out as an attachment with ``nosniff`` and ``private, no-store``: a browser never renders it
as a page of this site, and no shared cache keeps it.
"""

from allauth.account.decorators import verified_email_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.records.selectors import documents_for_user
from resources.models import Audience, ResourcePage

DOCUMENTS_PER_PAGE = 20
RESOURCES_SHOWN = 20


@verified_email_required
@require_GET
def documents(request):
    """Shared documents, newest first (paginated, two queries whatever the length), and the patients' resources."""
    page = Paginator(documents_for_user(request.user), DOCUMENTS_PER_PAGE).get_page(request.GET.get("p"))
    resources = (
        ResourcePage.objects.live()
        .public()
        .filter(audience=Audience.PATIENTS)
        .select_related("category")
        .order_by("title")[:RESOURCES_SHOWN]
    )
    zone = timezone.get_default_timezone()
    rows = [
        {"document": document, "local_shared_at": timezone.localtime(document.shared_at, zone)}
        for document in page.object_list
    ]
    return render(request, "portal/documents.html", {"page": page, "rows": rows, "resources": resources})


@never_cache
@verified_email_required
@require_GET
def document_download(request, reference):
    """One of the patient's own documents, as a download."""
    document = get_object_or_404(documents_for_user(request.user), reference=reference)
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, as_attachment=True, filename=document.filename, content_type=document.content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
