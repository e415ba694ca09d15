//! The Network page and `[network]` over the API: the warning, the mode
//! as radio buttons, a bad address shown at its field and not saved.

use serde_json::{json, Value};

use crate::config::{Config, NetworkMode};
use crate::web::forms::testing::{body, form_values, get, post_form, put_json, set, Harness};

fn json_of(r: &crate::web::Response) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn the_page_warns_and_saves_a_static_address() {
    let h = Harness::new("network-page", Config::default());
    let page = body(&h.run(get("/config/network")));
    let warning = page.find(r#"id="network-warning""#).expect("the warning");
    assert!(
        warning < page.find(r#"id="form-network""#).unwrap(),
        "above the form"
    );
    assert!(page.contains("makes the box unreachable"), "{page}");
    assert!(page.contains(r#"image/README.md, "Console""#), "{page}");
    assert!(
        page.contains(r#"<input type="radio" name="network.mode" id="f-network-mode-dhcp" value="dhcp" checked>"#),
        "{page}"
    );
    assert!(page.contains(r#"id="f-network-mode-static" value="static">"#));
    assert!(crate::web::html::NAV.contains(&("/config/network", "Network")));

    let mut form = form_values(&page, "form-network");
    assert!(
        form.contains(&("network.mode".into(), "dhcp".into())),
        "{form:?}"
    );
    set(&mut form, "network.mode", "static");
    set(&mut form, "network.interface", "eth1");
    set(&mut form, "network.address", "192.168.1.300/24");
    set(&mut form, "network.gateway", "192.168.1.1");
    let before = h.file();
    let r = h.run(post_form("/config/network", &form));
    assert_eq!(r.status, 422);
    let b = body(&r);
    assert!(
        b.contains(r#"<p class="field-error" data-field="network.address">&quot;192.168.1.300/24&quot; is not an address with a prefix length, like 192.168.1.50/24</p>"#),
        "{b}"
    );
    assert!(b.contains(r#"value="192.168.1.300/24""#), "shown as typed");
    assert_eq!(h.file(), before, "nothing saved");

    set(&mut form, "network.address", "192.168.1.50/24");
    set(&mut form, "network.dns", "192.168.1.1\n192.168.1.2");
    let r = h.run(post_form("/config/network", &form));
    assert_eq!(r.status, 303, "{}", body(&r));
    let n = h.ctx.config().network;
    assert_eq!(n.mode, NetworkMode::Static);
    assert_eq!(n.address.as_deref(), Some("192.168.1.50/24"));
    assert_eq!(n.dns, ["192.168.1.1", "192.168.1.2"]);
    assert!(h.file().contains("mode = \"static\""), "{}", h.file());
    let page = body(&h.run(get("/config/network")));
    assert!(page.contains(r#"id="f-network-mode-static" value="static" checked>"#));
}

#[test]
fn the_api_reads_writes_and_refuses_naming_the_field() {
    let h = Harness::new("network-api", Config::default());
    let v = json_of(&h.run(get("/api/v1/config/network")));
    assert_eq!(v, json!({"mode": "dhcp", "dns": []}));
    let before = h.file();
    for (body_, field) in [
        (
            json!({"mode": "static", "address": "192.168.1.300/24"}),
            "network.address",
        ),
        (json!({"mode": "static"}), "network.address"),
        (
            json!({"mode": "static", "address": "10.0.0.5/24", "gateway": "10.0.1.1"}),
            "network.gateway",
        ),
        (
            json!({"mode": "static", "address": "10.0.0.5/24", "dns": ["10.0.0.1", "x"]}),
            "network.dns[1]",
        ),
        // No board in the harness, so the interface must be named.
        (
            json!({"mode": "static", "address": "10.0.0.5/24"}),
            "network.interface",
        ),
    ] {
        let r = h.run(put_json("/api/v1/config/network", &body_.to_string()));
        assert_eq!(r.status, 422, "{body_}: {}", body(&r));
        assert_eq!(json_of(&r)["field"], field, "{body_}");
    }
    let r = h.run(put_json(
        "/api/v1/config/network",
        &json!({"mode": "manual"}).to_string(),
    ));
    assert_eq!(r.status, 400, "{}", body(&r));
    assert_eq!(json_of(&r)["field"], "network.mode");
    assert_eq!(h.file(), before, "nothing saved");
    let r = h.run(put_json(
        "/api/v1/config/network",
        &json!({"mode": "static", "interface": "eth0", "address": "10.0.0.5/24", "gateway": "10.0.0.1"})
            .to_string(),
    ));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(
        json_of(&r),
        json!({"changed": ["network"], "needs_restart": []})
    );
}

#[test]
fn the_system_endpoint_and_page_show_addresses_and_the_configured_mode() {
    let h = Harness::new("network-status", Config::default());
    let r = h.run(get("/api/v1/system/network"));
    assert_eq!(r.status, 200);
    let v = json_of(&r);
    assert_eq!(v["mode"], "dhcp");
    assert_eq!(v["configured"], "DHCP on every wired port");
    assert_eq!(v["file"], Value::Null);
    let lo = v["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["addresses"].as_array().unwrap().iter())
        .find(|a| a["address"] == "127.0.0.1")
        .cloned()
        .expect("loopback");
    assert_eq!(lo["prefix_len"], 8);
    // Static where ip runs; not known (null) where it does not, and then
    // the answer says why.
    match &v["unavailable"] {
        Value::Null => assert_eq!(lo["origin"], "static"),
        why => {
            assert!(why.as_str().unwrap().starts_with("ip (iproute2)"), "{why}");
            assert_eq!(lo["origin"], Value::Null);
        }
    }
    let list = json_of(&h.run(get("/api/v1/system/addresses")));
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["interface"] == "lo" && a["address"] == "127.0.0.1" && a["prefix_len"] == 8));
    let page = body(&h.run(get("/system")));
    assert!(
        page.contains(r#"<p id="network-configured">Configured: DHCP on every wired port"#),
        "{page}"
    );
    assert!(page.contains("<td>127.0.0.1/8</td>"), "{page}");
}
