"""SyncClient through the FFI against the Zoho and Graph emulators: sign-in, folders and
categories, settings, sync and its report, observer, cancellation, conflicts, history, errors."""

import http.client
import json
import urllib.parse

import pytest

import crmsync_ffi as ffi
from conftest import HostTokens, MemorySecrets, config, run

ALL = ffi.SyncRequest(kind=None, dry_run=False, force=False)
CONTACTS = ffi.SyncRequest(kind=ffi.Kind.CONTACT, dry_run=False, force=False)


def follow_once(url):
    """GETs an authorization URL like a browser that stops at the redirect; returns Location."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", u.path + "?" + u.query)
    resp = conn.getresponse()
    assert resp.status in (302, 303), resp.read()
    return resp.getheader("Location")


def contact_report(report):
    return next(k for k in report.kinds if k.kind == ffi.Kind.CONTACT)


# ---- settings ----


def test_default_settings_are_the_seeds():
    s = ffi.default_settings()
    assert s.events.category_filter == ffi.CategoryFilter.ZOHO_ONLY()
    assert s.contacts.conflict.winner == ffi.Winner.ZOHO
    assert s.contacts.conflict.field_merge
    assert s.contacts.zoho_scope == ffi.ZohoScope.OWNED_BY_ME()
    assert s.events.zoho_category == "Zoho"
    assert (s.events.window.days_back, s.events.window.days_ahead) == (30, 365)
    ffi.validate_settings(s)


def test_settings_are_validated_saved_and_reloaded(client, emu, secrets, tmp_path):
    s = client.settings()
    assert s == ffi.default_settings()
    s.contacts.outlook_container = "folder-1"
    s.events.category_filter = ffi.CategoryFilter.CHOSEN(names=["Clients"])
    s.contacts.conflict.winner = ffi.Winner.OUTLOOK
    client.set_settings(s)
    assert client.settings() == s
    again = ffi.SyncClient(config(emu, tmp_path / "home"), secrets)
    assert again.settings() == s

    bad = client.settings()
    bad.events.category_filter = ffi.CategoryFilter.CHOSEN(names=[])
    with pytest.raises(ffi.CrmSyncError.InvalidInput) as e:
        client.set_settings(bad)
    assert "events.category_filter" in e.value.reason
    assert client.settings() == s, "a refused change is not applied"


# ---- sign-in ----


def test_zoho_refresh_token_sign_in(client, emu, secrets):
    assert run(client.who_am_i()).zoho_user_id is None
    token = emu.zoho_refresh_token()
    run(client.zoho_sign_in_with_refresh_token(token, None))
    who = run(client.who_am_i())
    assert who.zoho_user_id
    assert who.zoho_time_zone
    assert secrets.values["crmsync.zoho.refresh_token"] == token


def test_zoho_pkce_sign_in(client, emu, secrets):
    url = client.zoho_authorization_url()
    assert "code_challenge=" in url and "code_challenge_method=S256" in url
    redirect = follow_once(url)
    assert redirect.startswith("http://127.0.0.1:53682/callback")
    run(client.complete_zoho_sign_in(redirect))
    assert run(client.who_am_i()).zoho_user_id
    assert "crmsync.zoho.refresh_token" in secrets.values


def test_zoho_redirect_of_another_sign_in_is_refused(client, emu):
    client.zoho_authorization_url()
    with pytest.raises(ffi.CrmSyncError.SignInRequired) as e:
        run(client.complete_zoho_sign_in("http://127.0.0.1:53682/callback?code=x&state=forged"))
    assert "state" in e.value.reason


def test_outlook_pkce_sign_in(client, emu, secrets):
    url = client.outlook_authorization_url("http://localhost:53100")
    assert "code_challenge=" in url
    redirect = follow_once(url)
    run(client.complete_outlook_sign_in(redirect))
    assert run(client.who_am_i()).outlook_signed_in
    assert "crmsync.outlook.refresh_token" in secrets.values


def test_outlook_device_code_sign_in(client, emu):
    prompt = run(client.start_outlook_device_code())
    assert prompt.user_code and prompt.verification_uri and prompt.message
    assert emu.approve_device_code(prompt.user_code)
    run(client.complete_outlook_device_code())
    assert run(client.who_am_i()).outlook_signed_in


def test_outlook_host_token_provider(client, emu):
    tokens = HostTokens(emu)
    client.use_outlook_token_provider(tokens)
    assert run(client.list_containers(ffi.Kind.CONTACT))
    assert tokens.calls >= 1


def test_outlook_sign_out_forgets_the_tokens(client, emu, secrets):
    prompt = run(client.start_outlook_device_code())
    emu.approve_device_code(prompt.user_code)
    run(client.complete_outlook_device_code())
    assert run(client.who_am_i()).outlook_signed_in
    run(client.sign_out(ffi.Side.OUTLOOK))
    assert not run(client.who_am_i()).outlook_signed_in
    assert not any(k.startswith("crmsync.outlook.") for k in secrets.values)
    with pytest.raises(ffi.CrmSyncError.SignInRequired) as e:
        run(client.list_containers(ffi.Kind.CONTACT))
    assert "Outlook" in e.value.reason


def test_sign_out_forgets_the_tokens(signed_in, secrets):
    run(signed_in.sign_out(ffi.Side.ZOHO))
    assert run(signed_in.who_am_i()).zoho_user_id is None
    assert not any(k.startswith("crmsync.zoho.") for k in secrets.values)
    with pytest.raises(ffi.CrmSyncError.SignInRequired):
        run(signed_in.sync(ALL, None, None))


# ---- folders and categories ----


def test_list_folders_lists_and_calendars_and_categories(signed_in, emu):
    clients = emu.graph_create_contact_folder("Clients")
    emu.graph_add_category("Zoho")
    emu.graph_add_category("Important")
    folders = run(signed_in.list_containers(ffi.Kind.CONTACT))
    assert clients in [f.id for f in folders]
    assert any(f.is_default for f in folders)
    assert run(signed_in.list_containers(ffi.Kind.TASK))
    assert run(signed_in.list_containers(ffi.Kind.EVENT))
    cats = run(signed_in.list_categories())
    assert {"Zoho", "Important"} <= set(cats)


# ---- sync ----


class Recorder(ffi.SyncObserver):
    def __init__(self, on_event=None):
        self.events = []
        self.logs = []
        self.on_event = on_event

    def on_progress(self, event):
        self.events.append(event)
        if self.on_event:
            self.on_event(event)

    def on_log(self, event):
        self.logs.append(event)


def seed(emu):
    zid = emu.zoho_insert(
        "Contacts",
        json.dumps({"First_Name": "Ada", "Last_Name": "Lovelace", "Email": "ada@example.com"}),
    )
    oid = emu.graph_insert_contact(
        emu.graph_default_contact_folder(),
        json.dumps(
            {
                "givenName": "Alan",
                "surname": "Turing",
                "emailAddresses": [{"address": "alan@example.com", "name": "Alan Turing"}],
            }
        ),
    )
    return zid, oid


def test_sync_both_ways_then_nothing(signed_in, emu):
    seed(emu)
    dry = run(signed_in.sync(ffi.SyncRequest(kind=None, dry_run=True, force=False), None, None))
    assert dry.dry_run and contact_report(dry).counts.created_in_outlook == 1
    assert len(json.loads(emu.graph_contacts(emu.graph_default_contact_folder()))) == 1

    first = run(signed_in.sync(ALL, None, None))
    assert first.completed and not first.cancelled
    c = contact_report(first).counts
    assert (c.created_in_outlook, c.created_in_zoho) == (1, 1)
    assert first.writes >= 2
    names = sorted(r["Last_Name"] for r in json.loads(emu.zoho_records("Contacts")))
    assert names == ["Lovelace", "Turing"]

    second = run(signed_in.sync(ALL, None, None))
    assert second.writes == 0

    history = signed_in.history(10)
    assert len(history) == 2, "a dry run is not recorded"
    assert history[0] == second and history[1] == first, "newest first, as returned"
    assert signed_in.history(1) == [second]


def test_observer_receives_progress_in_order(signed_in, emu):
    seed(emu)
    rec = Recorder()
    run(signed_in.sync(CONTACTS, rec, None))
    ev = rec.events
    assert ev[0] == ffi.ProgressEvent.KIND_STARTED(kind=ffi.Kind.CONTACT)
    assert ev[-1] == ffi.ProgressEvent.KIND_FINISHED(kind=ffi.Kind.CONTACT)
    order = [type(e).__name__.split(".")[-1] for e in ev]
    assert order == ["KIND_STARTED", "READING", "READING", "PLANNED", "WRITING", "WRITING", "KIND_FINISHED"]
    assert {e.side for e in ev if e.is_READING()} == {ffi.Side.ZOHO, ffi.Side.OUTLOOK}
    writing = [e for e in ev if e.is_WRITING()]
    assert writing and writing[-1].done == writing[-1].total
    assert [e.done for e in writing] == sorted(e.done for e in writing)
    assert [l.level for l in rec.logs] == [ffi.LogLevel.INFO, ffi.LogLevel.INFO]
    assert "started" in rec.logs[0].message and "finished" in rec.logs[1].message


def test_cancel_stops_the_run(signed_in, emu):
    seed(emu)
    handle = ffi.CancelHandle()

    def cancel_when_planned(event):
        if event.is_PLANNED():
            handle.cancel()

    report = run(signed_in.sync(ALL, Recorder(cancel_when_planned), handle))
    assert report.cancelled and not report.completed
    assert handle.is_cancelled()
    assert report.writes == 0, "no batch starts after a cancel"
    assert [k.kind for k in report.kinds] == [ffi.Kind.CONTACT], "no further kind starts"
    # Nothing was lost: the next run does the work.
    again = run(signed_in.sync(ALL, None, None))
    assert contact_report(again).counts.created_in_outlook == 1


def test_queued_conflict_resolved_by_the_user(signed_in, emu):
    s = signed_in.settings()
    s.contacts.conflict.winner = ffi.Winner.MANUAL
    signed_in.set_settings(s)
    zid, _ = seed(emu)
    run(signed_in.sync(CONTACTS, None, None))
    folder = emu.graph_default_contact_folder()
    twin = next(c for c in json.loads(emu.graph_contacts(folder)) if c.get("surname") == "Lovelace")
    emu.zoho_advance_clock(60)
    emu.zoho_update("Contacts", zid, json.dumps({"Title": "Countess"}))
    emu.graph_update_contact(twin["id"], json.dumps({"jobTitle": "Analyst"}))

    report = run(signed_in.sync(CONTACTS, None, None))
    assert contact_report(report).counts.conflicts_queued == 1
    [conflict] = signed_in.conflicts()
    assert conflict.kind == ffi.Kind.CONTACT and conflict.fields == ["job_title"]
    assert json.loads(conflict.zoho_json)["job_title"] == "Countess"
    assert json.loads(conflict.outlook_json)["job_title"] == "Analyst"

    signed_in.resolve_conflict(conflict.id, ffi.Side.OUTLOOK)
    run(signed_in.sync(CONTACTS, None, None))
    assert signed_in.conflicts() == []
    zoho = next(r for r in json.loads(emu.zoho_records("Contacts")) if r["id"] == zid)
    assert zoho["Title"] == "Analyst"
    assert run(signed_in.sync(CONTACTS, None, None)).writes == 0


# ---- errors ----


def test_errors_are_exceptions_with_readable_reasons(client, emu, tmp_path, secrets):
    with pytest.raises(ffi.CrmSyncError.SignInRequired) as e:
        run(client.sync(ALL, None, None))
    assert "Zoho" in e.value.reason and "sign in" in e.value.reason.lower()

    with pytest.raises(ffi.CrmSyncError.InvalidInput) as e:
        client.resolve_conflict(424242, ffi.Side.ZOHO)
    assert "424242" in e.value.reason

    cfg = config(emu, tmp_path / "other")
    cfg.graph_url = "not a url"
    with pytest.raises(ffi.CrmSyncError.InvalidInput) as e:
        ffi.SyncClient(cfg, secrets)
    assert "graph_url" in e.value.reason

    with pytest.raises(ffi.CrmSyncError.InvalidInput):
        run(client.complete_outlook_sign_in("http://localhost:1/?code=x&state=y"))


def test_a_failing_python_secret_store_surfaces_as_host_error(emu, tmp_path):
    class Locked(MemorySecrets):
        def set(self, key, value):
            raise ValueError("the keychain is locked")

    client = ffi.SyncClient(config(emu, tmp_path / "home"), Locked())
    token = emu.zoho_refresh_token()
    with pytest.raises(ffi.CrmSyncError.Host) as e:
        run(client.zoho_sign_in_with_refresh_token(token, None))
    assert "keychain is locked" in e.value.reason
    assert token not in e.value.reason


def test_no_secret_in_any_reason(client, emu, secrets):
    token = emu.zoho_refresh_token()
    run(client.zoho_sign_in_with_refresh_token(token, None))
    client.use_outlook_token_provider(HostTokens(emu))
    run(client.sync(ALL, None, None))
    run(client.sign_out(ffi.Side.ZOHO))
    with pytest.raises(ffi.CrmSyncError.SignInRequired) as e:
        run(client.sync(ALL, None, None))
    assert token not in str(e.value)


def test_tasks_and_events_sync_through_the_ffi(signed_in, emu):
    import datetime

    emu.zoho_insert("Tasks", json.dumps({"Subject": "Call Ada", "Due_Date": "2026-12-01"}))
    start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)).replace(microsecond=0)
    end = start + datetime.timedelta(hours=1)
    fmt = "%Y-%m-%dT%H:%M:%S+00:00"
    emu.zoho_insert(
        "Events",
        json.dumps({"Event_Title": "Board meeting", "Start_DateTime": start.strftime(fmt), "End_DateTime": end.strftime(fmt)}),
    )
    report = run(signed_in.sync(ALL, None, None))
    by_kind = {k.kind: k for k in report.kinds}
    assert set(by_kind) == {ffi.Kind.CONTACT, ffi.Kind.TASK, ffi.Kind.EVENT}
    assert by_kind[ffi.Kind.TASK].counts.created_in_outlook == 1
    assert by_kind[ffi.Kind.EVENT].counts.created_in_outlook == 1
    assert report.completed
    assert run(signed_in.sync(ALL, None, None)).writes == 0

    # Syncing one kind touches only that kind.
    only = run(signed_in.sync(ffi.SyncRequest(kind=ffi.Kind.TASK, dry_run=False, force=False), None, None))
    assert [k.kind for k in only.kinds] == [ffi.Kind.TASK]
