"""Settings of `invtwin loadtest`: where the tokens and master data come from by default.

`TWIN_API_TOKENS` ("token:role,…") gives the viewer and ingest tokens when none is passed on
the command line (admin can stand in for both); `TWIN_MASTER_DATA` gives the SKUs and sites.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class LoadTestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    api_tokens: str = ""
    master_data: Path = REPO_ROOT / "examples" / "network.yaml"

    def token_for(self, *roles: str) -> str:
        """The first token whose role is one of `roles` (in that order of preference)."""
        items = [item.strip() for item in self.api_tokens.split(",")]
        pairs = [item.rpartition(":") for item in items if item]
        for wanted in roles:
            for token, _, role in pairs:
                if role.strip() == wanted and token:
                    return token
        return ""
