"""Integration keys in the staff console and the staff API: admins only, shown once, revocable."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot import integrations
from bot.runtime import Runtime
from tests.channels.staff.conftest import new_token


def keyed(client: TestClient, key: str, **body: object):
    return client.post("/api/v1/messages", json=body, headers={"Authorization": f"Bearer {key}"})


def test_admins_make_and_revoke_keys_in_the_staff_api(app: FastAPI, runtime: Runtime) -> None:
    admin = TestClient(app, headers={"Authorization": f"Bearer {new_token(runtime, 'admin')}"})
    agent = TestClient(app, headers={"Authorization": f"Bearer {new_token(runtime, 'agent')}"})
    path = "/api/v1/staff/integration-keys"
    assert agent.get(path).status_code == 403
    assert agent.post(path, json={"name": "crm", "channels": ["crm"]}).status_code == 403
    assert admin.post(path, json={"name": "crm", "channels": ["web"]}).status_code == 422
    created = admin.post(path, json={"name": f"crm {uuid.uuid4().hex[:6]}", "channels": ["crm"]})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("hik_") and created.json()["channels"] == ["crm"]
    listed = admin.get(path).json()
    assert created.json()["id"] in [k["id"] for k in listed] and key not in str(listed)
    with runtime.db.sessions() as session:
        row = session.get(integrations.IntegrationKey, created.json()["id"])
        assert row is not None and key not in str(vars(row)) and row.key_hash != key
    resident = TestClient(app)
    assert keyed(resident, key, sender="c-1", text="hello").status_code == 200
    [used] = [k for k in admin.get(path).json() if k["id"] == created.json()["id"]]
    assert used["last_used_at"] is not None
    assert admin.post(f"{path}/{created.json()['id']}/revoke").status_code == 200
    assert keyed(resident, key, sender="c-1", text="hello").status_code == 401
    assert admin.post(f"{path}/{created.json()['id']}/revoke").status_code == 404
    assert admin.post(f"{path}/99999999999999999999999/revoke").status_code in (404, 422)


def test_admins_make_keys_in_the_console(console, app: FastAPI) -> None:
    admin, editor = console("admin"), console("editor")
    assert editor.get("/staff/integrations").status_code == 403
    name = f"city app {uuid.uuid4().hex[:6]}"
    page = admin.post("/staff/integrations", {"name": name, "channels": "app, kiosk"}).text
    key = re.search(r'<p class="token" id="new-key">([^<]+)</p>', page).group(1)
    assert "app, kiosk" in page
    assert key not in admin.get("/staff/integrations").text  # shown once
    resident = TestClient(app)
    assert keyed(resident, key, channel="kiosk", sender="k-1", text="hello").status_code == 200
    refused = admin.get(
        admin.post("/staff/integrations", {"name": "x", "channels": "web"}).headers["location"]
    ).text
    assert "No key created" in refused
    key_id = re.search(r"/staff/integrations/(\d+)/revoke", admin.get("/staff/integrations").text)
    admin.post(f"/staff/integrations/{key_id.group(1)}/revoke")
    assert keyed(resident, key, channel="kiosk", sender="k-1", text="hello").status_code == 401
