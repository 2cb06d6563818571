"""Starts and drives the whole hub for end-to-end tests."""
