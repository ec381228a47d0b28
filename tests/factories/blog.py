import datetime

import factory
from django.utils.text import slugify

from blog.models import BlogCategory, BlogIndexPage, BlogPage


class WagtailPageFactory(factory.django.DjangoModelFactory):
    """Builds a page as the admin would: as a child of ``parent`` (required), which sets its tree path and URL."""

    class Meta:
        abstract = True

    title = factory.Sequence(lambda n: f"Page {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.title))

    @classmethod
    def _create(cls, model_class, *args, parent=None, **kwargs):
        if parent is None:
            raise TypeError(f"{cls.__name__} needs parent=<the page to create it under>")
        return parent.add_child(instance=model_class(*args, **kwargs))


class BlogCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BlogCategory
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Blog category {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class BlogIndexPageFactory(WagtailPageFactory):
    class Meta:
        model = BlogIndexPage

    title = "Blog"


class BlogPageFactory(WagtailPageFactory):
    """A live blog post; pass ``categories=[...]`` and ``tags=["name", ...]`` to classify it."""

    class Meta:
        model = BlogPage
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Post {n}")
    date = factory.Sequence(lambda n: datetime.date(2025, 1, 1) + datetime.timedelta(days=n))
    excerpt = factory.LazyAttribute(lambda o: f"Excerpt of {o.title}.")

    @factory.post_generation
    def categories(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.categories.set(extracted)
            obj.save()

    @factory.post_generation
    def tags(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.tags.add(*extracted)
            obj.save()
