"""Where the documents shared with one patient live: ``PRIVATE_MEDIA_ROOT``, never under ``MEDIA_URL``.

A file here has no public address: ``url()`` refuses, so no template can link one by mistake, and the portal's
download view (which checks that the file is the asking patient's) is the only way out.
"""

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.utils.functional import cached_property


class PrivateFileSystemStorage(FileSystemStorage):
    @cached_property
    def base_location(self):
        return self._value_or_setting(self._location, settings.PRIVATE_MEDIA_ROOT)

    def _clear_cached_properties(self, setting, **kwargs):
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "PRIVATE_MEDIA_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)

    def url(self, name):
        raise ValueError("A private file has no public address: serve it through a view that checks who asks.")


def private_storage():
    """The ``private`` storage of ``STORAGES`` (a callable, so the model field follows the settings)."""
    return storages["private"]
