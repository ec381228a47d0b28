import factory
from django.utils.text import slugify
from wagtail.images import get_image_model
from wagtail.images.tests.utils import get_test_image_file

from website.models import StandardPage


class WebsiteImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_image_model()

    title = factory.Sequence(lambda n: f"Website image {n}")
    file = factory.LazyAttribute(lambda o: get_test_image_file(filename=f"{slugify(o.title)}.png", size=(64, 48)))


class StandardPageFactory(factory.django.DjangoModelFactory):
    """A published StandardPage under ``parent`` (required), created the way the admin's tree does."""

    class Meta:
        model = StandardPage

    title = factory.Sequence(lambda n: f"Página {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.title))
    intro = "Una página de prueba."
    live = True

    @classmethod
    def _create(cls, model_class, *args, parent=None, **kwargs):
        if parent is None:
            raise TypeError("StandardPageFactory needs parent=<the page to create it under>")
        return parent.add_child(instance=model_class(*args, **kwargs))
