"""Messages shown by third-party apps whose Spanish catalogues lack them.

``makemessages`` only collects strings from this project's sources, so each one is marked here to keep its
translation in ``locale/``. Django looks a msgid up in every catalogue, so ours answers for the app's.
"""

from django.utils.translation import gettext_noop

THIRD_PARTY_MESSAGES = [
    # wagtail/admin/auth.py, shown when a signed-in person without admin access opens /admin/.
    gettext_noop("You do not have permission to access the admin."),
]
