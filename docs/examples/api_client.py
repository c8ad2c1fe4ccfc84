"""A plain StressLab API client: requests for HTTP, websocket-client for progress.

    STRESSLAB_URL=http://127.0.0.1:8000 STRESSLAB_TOKEN=slk_… python docs/examples/api_client.py POOL_ID

It lists the scenarios, runs a synchronous stress test of a stored pool, then the same as an
async run followed on the WebSocket to completion, and prints one JSON document:
``{scenarios, sync, async: {task_id, messages, results}}``. The end-to-end test
(tests/e2e/test_api_e2e.py) runs this very script against `stresslab serve`.
"""

from __future__ import annotations

import json
import os
import sys

import requests
import websocket  # websocket-client


def main(pool_id: str) -> dict:
    url = os.environ.get("STRESSLAB_URL", "http://127.0.0.1:8000").rstrip("/")
    headers = {"Authorization": f"Bearer {os.environ['STRESSLAB_TOKEN']}"}
    body = {
        "request": {"pool": {"pool_id": pool_id}, "discount_rate": 0.05},
        "scenario_names": ["all"],
    }

    scenarios = requests.get(f"{url}/api/v1/asset-classes/stress-testing/scenarios",
                             headers=headers, timeout=30)
    scenarios.raise_for_status()

    sync = requests.post(f"{url}/api/v1/asset-classes/stress-testing/run", json=body,
                         headers=headers, timeout=600)
    sync.raise_for_status()

    accepted = requests.post(f"{url}/api/v1/asset-classes/stress-testing/async-run?use_cache=false",
                             json=body, headers=headers, timeout=60)
    accepted.raise_for_status()
    task = accepted.json()
    ws = websocket.create_connection(url.replace("http", "ws", 1) + task["websocket_url"],
                                     header=[f"Authorization: {headers['Authorization']}"],
                                     timeout=600)
    messages = []
    try:
        while True:
            message = json.loads(ws.recv())
            messages.append(message)
            print(f"{message['status']:>9}  {message['message']}", file=sys.stderr)
            if message["status"] in ("completed", "error"):
                break
    finally:
        ws.close()
    return {"scenarios": scenarios.json(), "sync": sync.json(),
            "async": {"task_id": task["task_id"], "accepted": task, "messages": messages}}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "lendingclub-2018q1")))
