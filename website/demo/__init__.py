"""The demo clinic that ``manage.py seed_demo`` builds: content as plain data, built in code."""
