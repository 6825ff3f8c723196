"""Tests of the Home-Assistant-free ev.energy API client."""
