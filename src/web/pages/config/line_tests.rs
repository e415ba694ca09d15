//! The Lines page: the board and `[[line]]` entries added, edited and
//! removed like the other entries, errors at their field; and the routes
//! form's line targets and origins.

use crate::config::sample::every_field_set;
use crate::config::{DtmfMode, RouteFrom};
use crate::web::forms::testing::{body, form_values, get, post_form, set, Harness};

#[test]
fn a_line_is_added_edited_and_removed_on_the_lines_page() {
    let h = Harness::new("lines-page", every_field_set());
    let page = body(&h.run(get("/config/lines")));
    assert!(page.contains(r#"id="form-system""#) && page.contains(r#"id="form-line""#));
    assert!(page.contains(r#"id="f-line-0-extension""#), "{page}");
    assert!(page.contains(r#"name="system.board""#));
    // Add a second line: an empty entry, then its name and number.
    let mut form = form_values(&page, "form-line");
    form.push(("_add".into(), "line".into()));
    let r = h.run(post_form("/config/lines", &form));
    assert_eq!(r.status, 200);
    let mut form = form_values(&body(&r), "form-line");
    set(&mut form, "line[1].name", "shop");
    set(&mut form, "line[1].extension", "202");
    let r = h.run(post_form("/config/lines", &form));
    assert_eq!(r.status, 303, "{}", body(&r));
    let cfg = h.ctx.config();
    assert_eq!(cfg.lines.len(), 2);
    let shop = &cfg.lines[1];
    assert_eq!(
        (shop.name.as_str(), shop.extension.as_str()),
        ("shop", "202")
    );
    // Left empty: the board's devices and the defaults.
    assert_eq!((shop.capture.as_deref(), shop.baud), (None, None));
    assert_eq!(shop.ring_cadence, "2000/4000");
    assert_eq!(shop.digit_timeout_ms, 4000);
    assert_eq!(shop.dtmf, DtmfMode::Auto);
    assert_eq!(
        cfg.lines[0],
        every_field_set().lines[0],
        "the first is kept"
    );
    assert!(h.file().contains("name = \"shop\""), "{}", h.file());
    // Edit it.
    let page = body(&h.run(get("/config/lines")));
    let mut form = form_values(&page, "form-line");
    set(&mut form, "line[1].ring_cadence", "400/200/400/2000");
    set(&mut form, "line[1].baud", "9600");
    let r = h.run(post_form("/config/lines", &form));
    assert_eq!(r.status, 303, "{}", body(&r));
    let cfg = h.ctx.config();
    assert_eq!(cfg.lines[1].ring_cadence, "400/200/400/2000");
    assert_eq!(cfg.lines[1].baud, Some(9600));
    // Remove it.
    let page = body(&h.run(get("/config/lines")));
    let mut form = form_values(&page, "form-line");
    form.push(("line[1]._remove".into(), "on".into()));
    let r = h.run(post_form("/config/lines", &form));
    assert_eq!(r.status, 303, "{}", body(&r));
    assert_eq!(h.ctx.config(), every_field_set());
}

#[test]
fn a_bad_line_is_shown_at_its_field_and_nothing_is_saved() {
    let h = Harness::new("lines-bad", every_field_set());
    let before = h.file();
    let page = body(&h.run(get("/config/lines")));
    // (field, posted value, what the message says)
    for (field, value, says) in [
        ("line[0].extension", "20x", "1-15 digits"),
        ("line[0].name", "Desk", "lower-case"),
        ("line[0].ring_cadence", "2000", "is not a ring cadence"),
        (
            "line[0].serial_port",
            "ttyUSB0",
            "is not an absolute path of a serial device",
        ),
        ("line[0].digit_timeout_ms", "500", "1000..=20000"),
    ] {
        let mut form = form_values(&page, "form-line");
        set(&mut form, field, value);
        let r = h.run(post_form("/config/lines", &form));
        assert_eq!(r.status, 422, "{field}");
        let b = body(&r);
        let at = b
            .find(&format!(r#"<p class="field-error" data-field="{field}">"#))
            .unwrap_or_else(|| panic!("{field}: {b}"));
        assert!(b[at..].contains(says), "{field}: {}", &b[at..at + 300]);
    }
    // A board there is not.
    let mut form = form_values(&page, "form-system");
    set(&mut form, "system.board", "rpi3");
    let r = h.run(post_form("/config/lines", &form));
    assert_eq!(r.status, 422);
    assert!(body(&r).contains(r#"data-field="system.board""#));
    assert_eq!(h.file(), before);
    assert_eq!(h.ctx.config(), every_field_set());
}

#[test]
fn without_a_board_a_line_must_name_its_devices() {
    let mut cfg = every_field_set();
    cfg.system.board = None;
    let h = Harness::new("lines-no-board", cfg.clone());
    let page = body(&h.run(get("/config/lines")));
    let mut form = form_values(&page, "form-line");
    set(&mut form, "line[0].capture", "");
    let r = h.run(post_form("/config/lines", &form));
    assert_eq!(r.status, 422);
    let b = body(&r);
    assert!(b.contains(r#"data-field="line[0].capture""#), "{b}");
    assert!(b.contains("not set and no board selected"), "{b}");
    // Choosing a board makes the same line valid.
    let page = body(&h.run(get("/config/lines")));
    let mut form = form_values(&page, "form-system");
    set(&mut form, "system.board", "rpi5");
    assert_eq!(h.run(post_form("/config/lines", &form)).status, 303);
    let page = body(&h.run(get("/config/lines")));
    let mut form = form_values(&page, "form-line");
    set(&mut form, "line[0].capture", "");
    let r = h.run(post_form("/config/lines", &form));
    assert_eq!(r.status, 303, "{}", body(&r));
    assert_eq!(h.ctx.config().lines[0].capture, None);
}

#[test]
fn the_routes_form_takes_line_targets_and_origins() {
    let h = Harness::new("lines-routes", every_field_set());
    let page = body(&h.run(get("/config/routes")));
    assert!(page.contains(r#"id="f-route-2-targets-0-line""#), "{page}");
    // The psap route gets a second target: the desk phone.
    let mut form = form_values(&page, "form-route");
    form.push(("_add".into(), "route[1].targets".into()));
    let r = h.run(post_form("/config/routes", &form));
    let mut form = form_values(&body(&r), "form-route");
    set(&mut form, "route[1].targets[1].line", "desk");
    set(&mut form, "route[3].from", "line");
    let r = h.run(post_form("/config/routes", &form));
    assert_eq!(r.status, 303, "{}", body(&r));
    let cfg = h.ctx.config();
    assert_eq!(cfg.routes[1].targets[1].line.as_deref(), Some("desk"));
    assert_eq!(cfg.routes[1].targets[1].uri, "");
    assert_eq!(cfg.routes[3].from, RouteFrom::AnyLine);
    assert!(h.file().contains("from = \"line\""), "{}", h.file());
    // A line there is not, and a uri beside a line, at their fields.
    for (field, value, at) in [
        ("route[3].from", "line:garage", "route[3].from"),
        ("route[3].from", "pbx", "route[3].from"),
        (
            "route[1].targets[1].line",
            "garage",
            "route[1].targets[1].line",
        ),
        (
            "route[1].targets[1].uri",
            "sip:a@pbx",
            "route[1].targets[1].uri",
        ),
    ] {
        let page = body(&h.run(get("/config/routes")));
        let mut form = form_values(&page, "form-route");
        set(&mut form, field, value);
        let r = h.run(post_form("/config/routes", &form));
        assert_eq!(r.status, 422, "{field} = {value}");
        let b = body(&r);
        assert!(
            b.contains(&format!(r#"data-field="{at}""#)),
            "{field} = {value}: {b}"
        );
    }
}
