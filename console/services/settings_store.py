"""Settings on disk and profiles with their keys: written off the loop thread
(the file is fsynced), keys to the secret store, never to the file."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from console import config
from console.config import Profile, Settings
from console.services.secrets import SecretStore, sendable


class UnsendableKey(ValueError):
    """A typed key that cannot travel in a header; nothing was stored."""


class SettingsStore:
    def __init__(self, path: Path | None, secrets: SecretStore) -> None:
        self.path = path
        self.secrets = secrets

    async def save(self, settings: Settings) -> None:
        await asyncio.get_running_loop().run_in_executor(None, config.save, settings, self.path)

    async def keys_present(self, settings: Settings) -> dict[str, bool]:
        loop = asyncio.get_running_loop()
        return {
            p.name: bool(await loop.run_in_executor(None, self.secrets.get, p.name))
            for p in settings.profiles
        }

    async def save_profile(
        self, settings: Settings, profile: Profile, key: str | None, activate: bool
    ) -> Settings:
        """Store the key (keyring, off the loop thread), then the settings. A key that
        cannot be sent is refused (``ValueError``) before anything is stored."""
        if key and not sendable(key):
            raise UnsendableKey(profile.name)
        if key:
            await asyncio.get_running_loop().run_in_executor(
                None, self.secrets.set, profile.name, key
            )
        settings = settings.with_profile(profile)
        if activate:
            settings = replace(settings, active=profile.name)
        await self.save(settings)
        return settings
