"""Fixtures of the FFI suite: the generated bindings, emulators, a client, a Python secret store.

The bindings are build output in ./generated (see run-tests.sh). Importing them here also runs
the generated checksum check, so stale bindings fail loudly instead of loading silently.
"""

import asyncio
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "generated"))

import crmsync_ffi as ffi  # noqa: E402

# The generated module checks the contract version on import but leaves the per-function
# checksum check commented out: call it, so bindings older than the library cannot pass.
ffi._uniffi_check_api_checksums(ffi._UniffiLib)


class MemorySecrets(ffi.SecretStore):
    """A secret store in Python: what the Mac app does with the Keychain."""

    def __init__(self):
        self.values = {}
        self.calls = []

    def get(self, key):
        self.calls.append(("get", key))
        return self.values.get(key)

    def set(self, key, value):
        self.calls.append(("set", key))
        self.values[key] = value

    def delete(self, key):
        self.calls.append(("delete", key))
        self.values.pop(key, None)


def run(coro):
    """Runs one async FFI call to completion."""
    return asyncio.run(coro)


def config(emu, home):
    return ffi.ClientConfig(
        home=str(home),
        zoho_client_id="1000.EMULATORCLIENT",
        zoho_client_secret=None,
        zoho_redirect_port=53682,
        zoho_accounts_url=emu.zoho_accounts_url(),
        outlook_client_id="crmsync-tests",
        outlook_tenant=None,
        outlook_login_url=emu.login_url(),
        graph_url=emu.graph_url(),
    )


@pytest.fixture
def emu():
    return ffi.Emulators.start()


@pytest.fixture
def secrets():
    return MemorySecrets()


@pytest.fixture
def client(emu, secrets, tmp_path):
    return ffi.SyncClient(config(emu, tmp_path / "home"), secrets)


class HostTokens(ffi.AccessTokenProvider):
    """MSAL's part on the Mac: hands Graph tokens in."""

    def __init__(self, emu):
        self.emu = emu
        self.calls = 0

    def access_token(self, scopes, force_refresh):
        self.calls += 1
        import time

        return ffi.HostAccessToken(token=self.emu.graph_access_token(), expires_at=int(time.time()) + 3600)


@pytest.fixture
def signed_in(client, emu):
    """A client signed in to Zoho (refresh token) and to Outlook (host token provider)."""
    run(client.zoho_sign_in_with_refresh_token(emu.zoho_refresh_token(), None))
    client.use_outlook_token_provider(HostTokens(emu))
    return client


_status = {"code": 0}


def pytest_sessionfinish(session, exitstatus):
    _status["code"] = int(exitstatus)


def pytest_unconfigure(config):
    # End the interpreter here, with pytest's own status, instead of letting it finalise while
    # the library's runtime threads may still call back into Python.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_status["code"])
