import factory
from django.utils.text import slugify

from website.models import StandardPage


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
