"""The app's HTTP API: one call, funboost's envelope in, `data` out, refusals raised."""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional

import requests

from .errors import EdgeConflictingIdError, EdgeInvalid, EdgeJobLookupError, EdgeRefused

DEFAULT_URL = "http://127.0.0.1:3000"


def resolve_base_url(base_url: Optional[str]) -> str:
    """`base_url`, else `$FUNBOOST_EDGE_URL`, else `http://127.0.0.1:3000` (what `spin up`
    serves), always ending in `/funboost`."""
    url = base_url or os.environ.get("FUNBOOST_EDGE_URL") or DEFAULT_URL
    url = url.rstrip("/")
    if not url.endswith("/funboost"):
        url += "/funboost"
    return url


def resolve_token(token: Optional[str]) -> Optional[str]:
    """`token`, else `$FUNBOOST_EDGE_TOKEN`, else `$FUNBOOST_EDGE_API_TOKEN`; an empty one is none."""
    for value in (token, os.environ.get("FUNBOOST_EDGE_TOKEN"), os.environ.get("FUNBOOST_EDGE_API_TOKEN")):
        if value:
            return value
    return None


class EdgeClient:
    """A `requests` session on `<base_url>/funboost/`, with the API token as a bearer header."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        timeout: float = 10.0,
        session: Optional[requests.Session] = None,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        self.timeout = timeout
        self.session = session if session is not None else requests.Session()
        self._token = resolve_token(token)

    def call(
        self,
        method: str,
        route: str,
        params: Optional[Mapping[str, str]] = None,
        body: Optional[Dict[str, Any]] = None,
        job_id: Optional[str] = None,
    ) -> Any:
        """Sends one request and returns the envelope's `data`. A refusal raises `EdgeRefused`
        (APScheduler's `ConflictingIdError` / `JobLookupError` for 4090 / 4040, naming `job_id`).
        Bodies are always sent with `json=` (content-type `application/json`)."""
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        response = self.session.request(
            method,
            f"{self.base_url}/{route}",
            params=dict(params) if params else None,
            json=body,
            headers=headers,
            timeout=self.timeout,
        )
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or "succ" not in envelope:
            text = response.text[:300]
            raise EdgeRefused(
                f"{method} {route}: HTTP {response.status_code}, not a funboost envelope: {text!r}",
                error="BadResponse",
                status=response.status_code,
            )
        if envelope.get("succ") is True:
            return envelope.get("data")
        raise refusal(envelope, response.status_code, job_id)


def refusal(envelope: Mapping[str, Any], status: Optional[int], job_id: Optional[str]) -> EdgeRefused:
    """The exception for a `succ: false` envelope."""
    msg = str(envelope.get("msg") or "")
    error = envelope.get("error")
    code = envelope.get("code")
    data = envelope.get("error_data")
    error_data: Optional[Dict[str, Any]] = dict(data) if isinstance(data, dict) else None
    code_int = code if isinstance(code, int) else None
    if error == "ConflictingIdError" and job_id is not None:
        return EdgeConflictingIdError(job_id, msg=msg, code=code_int, status=status, error_data=error_data)
    if error == "JobLookupError" and job_id is not None:
        return EdgeJobLookupError(job_id, msg=msg, code=code_int, status=status, error_data=error_data)
    field = error_data.get("field") if error_data else None
    cls = EdgeInvalid if error == "InvalidField" else EdgeRefused
    return cls(
        msg,
        error=str(error) if error is not None else None,
        code=code_int,
        field=str(field) if field is not None else None,
        status=status,
        error_data=error_data,
    )
