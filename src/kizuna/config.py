"""The node's settings: read once at start-up from KIZUNA_* variables and passed down."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KIZUNA_", extra="ignore")

    home: Path = Path(".kizuna")
    database_url: str | None = None
    node_name: str = "kizuna"
    secret_key: str | None = None
    #: Largest request body accepted, in bytes (advertised as the API root's max_content_length).
    max_content_length: int = 64 * 1024 * 1024
    #: Objects per page when the client names no limit, and the most it may ask for.
    default_page_size: int = 1000
    max_page_size: int = 10000
    #: Where hunt telemetry lives (REST hunts read only from here, one folder per org);
    #: default <home>/telemetry.
    telemetry_dir: Path | None = None
    #: Run due peers' syncs in the background of `kizuna serve` (each worker; a lease per
    #: peer keeps runs apart). `kizuna sync` runs them in the foreground instead.
    sync_in_serve: bool = True
    #: Assistance SLA per NCSC category, seconds to acknowledge and to respond, as JSON
    #: e.g. {"1": [1800, 7200]}; categories not named keep kizuna.incidents' defaults.
    incident_sla: dict[int, tuple[int, int]] = {}
    #: The local org whose duty officers hear of arriving assistance requests addressed to
    #: it and of Category 1-3 incidents it may read (name or identity id); unset: no watch.
    duty_org: str | None = None
    #: Where duty notifications are POSTed as JSON; unset: they are only logged.
    duty_webhook_url: str | None = None
    #: Delivery attempts per notification before the outbox gives up on it.
    duty_max_attempts: int = 8

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.home.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.home / 'kizuna.db').resolve()}"

    def resolved_telemetry_dir(self) -> Path:
        """The telemetry folder, absolute (not created here)."""
        chosen = self.telemetry_dir if self.telemetry_dir is not None else self.home / "telemetry"
        return chosen.resolve()

    def resolved_secret_key(self) -> bytes:
        """The node's secret (signs paging cursors); generated into KIZUNA_HOME when absent."""
        if self.secret_key:
            return self.secret_key.encode()
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "secret.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()
