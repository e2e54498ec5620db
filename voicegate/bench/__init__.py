"""Reusable clients and helpers for voicegate's benchmarks and end-to-end tests."""
