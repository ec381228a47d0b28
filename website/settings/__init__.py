"""Settings for the clinic platform.

``base`` holds everything read from the environment; ``dev`` is what ``make run`` uses,
``test`` is what pytest uses and ``production`` is what gunicorn uses.
"""
