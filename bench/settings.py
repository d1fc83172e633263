"""Benchmark settings: production settings, plus a bench-only URL conf for the floor view."""

from scoreportal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
