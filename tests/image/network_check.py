#!/usr/bin/env python3
"""What tests/image/network.sh asks of the booted image about [network],
over qemu's forwarded loopback web port (standard library only; the login
and the certificate check are check.py's).

  network_check.py set-static WEBPORT CONSOLE_LOG PASSWORD ADDRESS/PREFIX GATEWAY DNS
      finds the interface that holds ADDRESS now (from DHCP) and saves a
      static ADDRESS/PREFIX on it with GATEWAY and DNS through the API;
      prints the interface
  network_check.py set-dhcp WEBPORT CONSOLE_LOG PASSWORD
      saves mode = "dhcp" through the API
  network_check.py wait-origin WEBPORT CONSOLE_LOG PASSWORD ADDRESS ORIGIN SECONDS
      asks GET /api/v1/system/network until ADDRESS is listed with ORIGIN
      ("static", "dhcp"), retrying while the interface is reconfigured;
      prints the seconds it took and the configured mode; exit 1 at the
      deadline with the last answer
"""

import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402  (the sibling module, found through the path above)


def fail(msg):
    print(f"network_check.py: {msg}", file=sys.stderr)
    sys.exit(1)


def logged_in(port, console_log, password):
    web, _ = check.web_for(port, console_log)
    if web.log_in("admin", password) != "/":
        fail("login with the password set before did not lead to /")
    return web


def network(web):
    status, _, _, body = web.send("GET", "/api/v1/system/network")
    if status != 200:
        fail(f"GET /api/v1/system/network answered {status}: {body}")
    return json.loads(body)


def origin_of(state, address):
    for interface in state.get("interfaces", []):
        for a in interface.get("addresses", []):
            if a.get("address") == address:
                return interface.get("name"), a.get("origin")
    return None, None


def put(web, section):
    status, _, _, body = web.send("PUT", "/api/v1/config/network", json.dumps(section), "application/json")
    if status != 200:
        fail(f"PUT /api/v1/config/network {json.dumps(section)} answered {status}: {body}")
    return json.loads(body)


def set_static(port, console_log, password, address, gateway, dns):
    web = logged_in(port, console_log, password)
    state = network(web)
    interface, origin = origin_of(state, address.split("/")[0])
    if interface is None:
        fail(f"no interface holds {address} now: {json.dumps(state)}")
    answer = put(
        web,
        {"mode": "static", "interface": interface, "address": address, "gateway": gateway, "dns": [dns]},
    )
    if answer.get("changed") != ["network"] or answer.get("needs_restart"):
        fail(f"the save answered {answer}")
    print(interface)


def set_dhcp(port, console_log, password):
    answer = put(logged_in(port, console_log, password), {"mode": "dhcp"})
    if answer.get("changed") != ["network"]:
        fail(f"the save answered {answer}")


def wait_origin(port, console_log, password, address, want, seconds):
    start = time.monotonic()
    last = None
    while time.monotonic() - start < seconds:
        try:
            state = network(logged_in(port, console_log, password))
        except (OSError, ValueError, http.client.HTTPException) as e:
            # The interface is being reconfigured: the connection may drop.
            last = f"{type(e).__name__}: {e}"
            time.sleep(2)
            continue
        last = state
        _, origin = origin_of(state, address)
        if origin == want:
            print(f"{time.monotonic() - start:.0f} {state.get('mode')}")
            return
        time.sleep(2)
    fail(f"{address} was not {want} within {seconds} s; the last answer: {json.dumps(last)}")


def main(argv):
    what, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    if what == "set-static" and len(args) == 6:
        set_static(int(args[0]), args[1], args[2], args[3], args[4], args[5])
    elif what == "set-dhcp" and len(args) == 3:
        set_dhcp(int(args[0]), args[1], args[2])
    elif what == "wait-origin" and len(args) == 6:
        wait_origin(int(args[0]), args[1], args[2], args[3], args[4], float(args[5]))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
