"""Background tasks and the cache on a real Redis server.

Run with ``make test-pg`` (REDIS_URL set); skipped without Redis (see tests/conftest.py).
"""

import uuid

import pytest
from django.core.cache import cache
from huey import RedisHuey

pytestmark = pytest.mark.redis


@pytest.fixture
def huey(settings):
    """A queue of its own on the configured Redis, so tests never see each other's tasks."""
    queue = RedisHuey(name=f"clinic-test-{uuid.uuid4().hex}", url=settings.REDIS_URL, utc=True)
    yield queue
    queue.flush()


def test_a_task_queued_on_redis_runs_in_a_worker_and_its_result_comes_back(huey):
    @huey.task()
    def add(a, b):
        return a + b

    result = add(2, 3)

    assert huey.pending_count() == 1
    assert result.get() is None  # not run yet: nothing ran it in this process

    huey.execute(huey.dequeue())

    assert huey.pending_count() == 0
    assert result.get() == 5


def test_a_failing_task_reports_its_error_to_the_caller(huey):
    from huey.exceptions import TaskException

    @huey.task()
    def explode():
        raise ValueError("boom")

    result = explode()
    huey.execute(huey.dequeue())

    with pytest.raises(TaskException, match="boom"):
        result.get()


def test_the_configured_huey_is_on_redis(settings):
    assert settings.HUEY["huey_class"] == "huey.RedisHuey"
    assert settings.HUEY["connection"] == {"url": settings.REDIS_URL}


def test_the_django_cache_round_trips_through_redis(settings):
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    key = f"test-{uuid.uuid4().hex}"

    cache.set(key, {"slots": [1, 2, 3]}, timeout=30)

    assert cache.get(key) == {"slots": [1, 2, 3]}
    cache.delete(key)
    assert cache.get(key) is None
