"""Backends an Approach runs on: an OpenAI-compatible endpoint, or the embedded local models."""
