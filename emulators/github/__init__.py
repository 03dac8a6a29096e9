"""GitHub REST API v3 emulator (repositories, refs, contents, pull requests)."""

from __future__ import annotations

from emulators.github.emulator import GitHubEmulator
from emulators.github.state import Repo, blob_sha

__all__ = ["GitHubEmulator", "Repo", "blob_sha"]
