import factory
from django.core.files.base import ContentFile
from django.utils.text import slugify
from wagtail.documents import get_document_model

from resources.models import Audience, ResourceCategory, ResourceIndexPage, ResourceKind, ResourcePage

from .blog import WagtailPageFactory


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_document_model()

    title = factory.Sequence(lambda n: f"Document {n}")
    file = factory.LazyAttribute(lambda o: ContentFile(b"%PDF-1.4 test document\n", name=f"{slugify(o.title)}.pdf"))


class ResourceCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResourceCategory
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Resource category {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class ResourceIndexPageFactory(WagtailPageFactory):
    class Meta:
        model = ResourceIndexPage

    title = "Resources"


class ResourcePageFactory(WagtailPageFactory):
    """A live, public link resource unless told otherwise (use the ``document``/``video`` traits for the others)."""

    class Meta:
        model = ResourcePage

    title = factory.Sequence(lambda n: f"Resource {n}")
    kind = ResourceKind.LINK
    external_url = "https://example.org/guide"
    summary = factory.LazyAttribute(lambda o: f"Summary of {o.title}.")
    audience = Audience.PUBLIC

    class Params:
        patients_only = factory.Trait(audience=Audience.PATIENTS)
        as_document = factory.Trait(
            kind=ResourceKind.DOCUMENT, external_url="", document=factory.SubFactory(DocumentFactory)
        )
        as_video = factory.Trait(
            kind=ResourceKind.VIDEO, external_url="", video_url="https://www.youtube.com/watch?v=abc123"
        )
