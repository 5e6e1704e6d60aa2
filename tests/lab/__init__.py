"""Tests of the local DR lab (console/lab)."""
