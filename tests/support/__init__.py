"""Test support: real services (Mosquitto) and helpers to wait on them."""
