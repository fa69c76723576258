"""Tests of the review page (python -m review)."""
