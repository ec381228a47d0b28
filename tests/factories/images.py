import factory
from django.utils.text import slugify
from wagtail.images import get_image_model
from wagtail.images.tests.utils import get_test_image_file


class ImageFactory(factory.django.DjangoModelFactory):
    """A small Wagtail image (a real PNG), for photos, featured images and blocks alike."""

    class Meta:
        model = get_image_model()

    title = factory.Sequence(lambda n: f"Image {n}")
    file = factory.LazyAttribute(lambda o: get_test_image_file(filename=f"{slugify(o.title)}.png", size=(64, 48)))
