//! `Auth` with its files: a reset on the console reaches the running box.

use super::*;

#[test]
fn a_console_reset_ends_sessions_at_their_next_request() {
    let dir = std::env::temp_dir().join(format!("pbxgate-auth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (auth, first) = Auth::open(&dir).unwrap();
    let first = first.unwrap();
    let web = WebConfig::default();
    let ip: IpAddr = "10.0.0.2".parse().unwrap();
    let t0 = Instant::now();
    let Login::Started { session, .. } = smol::block_on(auth.login("admin", &first, ip, &web, t0))
    else {
        panic!("login");
    };
    assert!(auth.session(&session, &web, t0).is_some());
    // The mtime must move: some filesystems keep whole seconds.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = reset_password(&dir).unwrap();
    // Nobody has logged in since: the session's next request sees it.
    assert!(
        auth.session(&session, &web, t0).is_none(),
        "the reset ended it"
    );
    let refused = smol::block_on(auth.login("admin", &first, ip, &web, t0));
    assert_eq!(refused, Login::Refused);
    let again = smol::block_on(auth.login("admin", &second, ip, &web, t0));
    assert!(matches!(
        again,
        Login::Started {
            must_change: true,
            ..
        }
    ));
    // A second open reads the users, makes no new password.
    let (_, none) = Auth::open(&dir).unwrap();
    assert_eq!(none, None);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cookies() {
    assert_eq!(cookie_value("a=b; pbxgate_session=abc; c=d"), Some("abc"));
    assert_eq!(cookie_value("pbxgate_session="), None);
    assert_eq!(cookie_value("other=1"), None);
    let c = session_cookie("x");
    for part in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(c.contains(part), "{c}");
    }
}
