"""Test problems with known or reference answers: sensitivity (``sensitivity``), reliability."""
