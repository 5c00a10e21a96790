"""Login with Amazon's token endpoint (``/auth/o2/token``) and the Seller Central consent page.

The consent page (``/apps/authorize/consent``) is the OAuth step a seller sees on Seller
Central: it redirects to the product's callback with ``spapi_oauth_code``, which the token
endpoint exchanges (``grant_type=authorization_code``) for a refresh token. The token endpoint
also gives grantless tokens (``grant_type=client_credentials`` with a ``scope``), the ones
Notifications' destination operations take.
"""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from ..notifications import LWA_SCOPES
from ..state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_SELLER_ID, SimState


def lwa_token(state: SimState, request: Request) -> Response:
    form = request.form

    def error(status: int, code: str, description: str) -> Response:
        return Response(
            json.dumps({"error": code, "error_description": description}),
            status=status,
            content_type="application/json;charset=UTF-8",
        )

    if (
        form.get("client_id") != DEFAULT_CLIENT_ID
        or form.get("client_secret") != DEFAULT_CLIENT_SECRET
    ):
        return error(401, "invalid_client", "Client authentication failed")
    grant_type = form.get("grant_type")
    if grant_type == "client_credentials":
        # Grantless operations (Notifications' destinations, ...): a token for the application
        # itself, for one scope, with no refresh token.
        scope = form.get("scope")
        if not scope:
            return error(
                400, "invalid_request", "The request is missing a required parameter : scope"
            )
        if scope not in LWA_SCOPES:
            return error(400, "invalid_scope", "The request has an invalid parameter : scope")
        grantless = state.issue_grantless_token(DEFAULT_CLIENT_ID, scope)
        body = {
            "access_token": grantless.token,
            "scope": scope,
            "token_type": "bearer",
            "expires_in": int((grantless.expires - state.now()).total_seconds() + 0.5),
        }
        return Response(json.dumps(body), status=200, content_type="application/json;charset=UTF-8")
    if grant_type == "refresh_token":
        refresh = state.refresh_tokens.get(form.get("refresh_token", ""))
        if refresh is None or refresh.revoked:
            return error(
                400,
                "invalid_grant",
                "The request has an invalid grant parameter : refresh_token",
            )
    elif grant_type == "authorization_code":
        exchanged = state.exchange_auth_code(form.get("code", ""), DEFAULT_CLIENT_ID)
        if exchanged is None:
            return error(400, "invalid_grant", "The request has an invalid grant parameter : code")
        refresh = exchanged
    elif not grant_type:
        return error(
            400, "invalid_request", "The request is missing a required parameter : grant_type"
        )
    else:
        return error(400, "unsupported_grant_type", f"The grant type {grant_type} is not supported")
    access = state.issue_access_token(refresh)
    body = {
        "access_token": access.token,
        "refresh_token": refresh.token,
        "token_type": "bearer",
        "expires_in": int((access.expires - state.now()).total_seconds() + 0.5),
    }
    return Response(json.dumps(body), status=200, content_type="application/json;charset=UTF-8")


def consent(state: SimState, request: Request) -> Response:
    source = request.form if request.method == "POST" else request.args
    application_id = source.get("application_id", "")
    state_value = source.get("state", "")
    redirect_uri = source.get("redirect_uri") or state.config.redirect_uri
    if not application_id or not state_value:
        return Response(
            "<!DOCTYPE html><html><body><h1>Invalid request</h1>"
            "<p>application_id and state are required.</p></body></html>",
            status=400,
            content_type="text/html; charset=utf-8",
        )
    if request.method == "GET":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in (
                ("application_id", application_id),
                ("state", state_value),
                ("redirect_uri", redirect_uri),
            )
        )
        page = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            "<title>Amazon Seller Central (simulator) - Authorize application</title>"
            "</head><body>"
            "<h1>Seller Central (simulator)</h1>"
            f"<p>The application <code>{html.escape(application_id)}</code> asks for access "
            "to the "
            f"Amazon.ca seller account <strong>{DEFAULT_SELLER_ID}</strong>.</p>"
            f'<form method="post" action="/apps/authorize/consent">{fields}'
            '<button type="submit" name="authorize" value="1">Authorize</button></form>'
            "</body></html>"
        )
        return Response(page, status=200, content_type="text/html; charset=utf-8")
    with state.lock:
        state.tick()
        code = state.issue_auth_code(DEFAULT_SELLER_ID)
    query = urlencode(
        {
            "spapi_oauth_code": code.code,
            "selling_partner_id": DEFAULT_SELLER_ID,
            "state": state_value,
        }
    )
    location = redirect_uri + ("&" if "?" in redirect_uri else "?") + query
    response = Response("", status=302)
    response.headers["Location"] = location
    return response
