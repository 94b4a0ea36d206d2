"""Integrations with the SDKs and frameworks users already call: ``wrap_openai`` for the OpenAI SDK."""

from .openai import wrap_openai

__all__ = ["wrap_openai"]
