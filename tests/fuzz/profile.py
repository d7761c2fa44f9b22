"""The fuzz folder's hypothesis profile (registered in conftest.py), as a test decorator."""

from hypothesis import settings

FUZZ = settings.get_profile("text311-fuzz")
