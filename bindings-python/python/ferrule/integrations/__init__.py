"""Integrations with the SDKs and frameworks users already call: ``wrap_openai`` for the OpenAI SDK,
``wrap_anthropic`` for the Anthropic SDK."""

from .anthropic import wrap_anthropic
from .openai import wrap_openai

__all__ = ["wrap_anthropic", "wrap_openai"]
