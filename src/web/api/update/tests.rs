//! The update API and page over real bundles: made by image/bundle.sh
//! from a small ext4 image and the TEST key (image/keys/test/), checked by
//! the real `rauc info` against the test CA. Installing needs RAUC's
//! service, which this host has not: it answers "no RAUC on this system"
//! (the image's qemu test installs for real). The success path runs over
//! an updater that plays RAUC.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

use crate::app::{BundleInfo, SlotInfo, Slots, UpdateError, Updater};
use crate::config::Config;
use crate::test_support::Rauc;
use crate::web::forms::testing::{body, get, request, Harness};
use crate::web::http::{Method, Request, Response};

struct Bundles {
    dir: PathBuf,
}

impl Bundles {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Made once per test run: good.raucb (x86-gateway, 9.8.7), rpi4.raucb
/// (another board), stranger.raucb (signed by a key the box does not
/// trust), junk.raucb (random bytes).
fn bundles() -> &'static Bundles {
    static B: OnceLock<Bundles> = OnceLock::new();
    B.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pbxgate-bundles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        // Random content: a squashfs of zeros is too small for RAUC's
        // verity format (it wants more than one 4 KiB block).
        let noise: Vec<u8> = (0..65536).map(|_| fastrand::u8(..)).collect();
        std::fs::write(dir.join("root/noise"), noise).unwrap();
        std::fs::write(dir.join("root/hello"), "a made-up root slot\n").unwrap();
        let img = dir.join("rootfs.ext4");
        sh(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-d"])
            .arg(dir.join("root"))
            .arg(&img)
            .arg("4M"));
        let script = repo().join("image/bundle.sh");
        let bundle = |board: &str, out: &str, extra: &[&str]| {
            sh(Command::new("bash")
                .arg(&script)
                .args([board])
                .arg(&img)
                .arg(dir.join(out))
                .args(["--version", "9.8.7"])
                .args(extra));
        };
        bundle("x86-gateway", "good.raucb", &[]);
        bundle("rpi4", "rpi4.raucb", &[]);
        sh(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=not the pbxgate signer", "-keyout"])
            .arg(dir.join("other.key"))
            .arg("-out")
            .arg(dir.join("other.cert")));
        let (cert, key) = (dir.join("other.cert"), dir.join("other.key"));
        bundle(
            "x86-gateway",
            "stranger.raucb",
            &[
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        );
        let junk: Vec<u8> = (0..100_000).map(|_| fastrand::u8(..)).collect();
        std::fs::write(dir.join("junk.raucb"), junk).unwrap();
        Bundles { dir }
    })
}

/// RAUC on this host: `rauc info` with the test CA against a system
/// configuration that says this is an x86-gateway; no service behind it.
fn rauc_here(dir: &Path) -> Rauc {
    let conf = dir.join("system.conf");
    std::fs::write(
        &conf,
        "[system]\ncompatible=pbxgate-x86-gateway\nbootloader=grub\ngrubenv=/nonexistent/grubenv\n",
    )
    .unwrap();
    Rauc {
        program: "rauc".into(),
        system_conf: conf,
        keyring: Some(repo().join("image/keys/test/test-ca.cert.pem")),
        reboot: vec!["false".into()],
    }
}

fn upload(h: &Harness, bundle: &[u8], query: &str) -> Response {
    h.run(request(
        Method::Post,
        &format!("/api/v1/system/update{query}"),
        bundle,
        "application/octet-stream",
    ))
}

fn json_of(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|_| panic!("{}", body(r)))
}

fn uploads_left(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("update-upload-"))
        .collect()
}

#[test]
fn the_test_key_signs_a_bundle_rauc_accepts_and_the_check_refuses_others() {
    let b = bundles();
    let rauc = rauc_here(&b.dir);
    let info = rauc.check(&b.path("good.raucb")).expect("good bundle");
    assert_eq!(
        info,
        BundleInfo {
            compatible: "pbxgate-x86-gateway".into(),
            version: "9.8.7".into(),
            description: Some("pbxgate 9.8.7 for x86-gateway".into()),
        }
    );
    let e = rauc.check(&b.path("stranger.raucb")).unwrap_err();
    assert!(
        matches!(&e, UpdateError::NotTrusted(w) if w.contains("self-signed")),
        "{e:?}"
    );
    let e = rauc.check(&b.path("rpi4.raucb")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bundle is for pbxgate-rpi4, this box is pbxgate-x86-gateway"
    );
    assert!(matches!(
        rauc.check(&b.path("junk.raucb")),
        Err(UpdateError::NotABundle(_))
    ));
}

#[test]
fn uploads_are_checked_refused_with_the_reason_and_removed() {
    let b = bundles();
    let mut h = Harness::new("update-api", Config::default());
    h.ctx.updater = Some(Arc::new(rauc_here(&h.dir)));
    let read = |n: &str| std::fs::read(b.path(n)).unwrap();
    // Signed by a stranger: refused, with RAUC's words.
    let r = upload(&h, &read("stranger.raucb"), "");
    assert_eq!(r.status, 422, "{}", body(&r));
    let e = json_of(&r)["error"].as_str().unwrap().to_string();
    assert!(
        e.starts_with("bundle signature not trusted: ") && e.contains("self-signed certificate"),
        "{e}"
    );
    // For another board.
    let r = upload(&h, &read("rpi4.raucb"), "");
    assert_eq!(r.status, 422);
    assert_eq!(
        json_of(&r)["error"],
        json!("bundle is for pbxgate-rpi4, this box is pbxgate-x86-gateway")
    );
    // Not a bundle at all.
    let r = upload(&h, &read("junk.raucb"), "");
    assert_eq!(r.status, 415, "{}", body(&r));
    assert!(json_of(&r)["error"]
        .as_str()
        .unwrap()
        .starts_with("not an update bundle: "));
    let r = upload(&h, b"", "");
    assert_eq!(r.status, 400);
    // Good: checked, then installing needs RAUC's service, not here.
    let r = upload(&h, &read("good.raucb"), "");
    assert_eq!(r.status, 503, "{}", body(&r));
    assert!(json_of(&r)["error"]
        .as_str()
        .unwrap()
        .starts_with("no RAUC on this system: updates need the appliance image"));
    // Too big, by its Content-Length: refused before a byte is stored.
    let mut big = request(
        Method::Post,
        "/api/v1/system/update",
        b"x",
        "application/octet-stream",
    );
    big.headers
        .push(("content-length".into(), (super::UPLOAD_MAX + 1).to_string()));
    let r = h.run(big);
    assert_eq!(r.status, 413);
    assert_eq!(
        json_of(&r)["error"],
        json!("the update bundle is over 512 MiB")
    );
    assert!(
        uploads_left(&h.dir).is_empty(),
        "{:?}",
        uploads_left(&h.dir)
    );
    assert!(!h.dir.join(super::PENDING_FILE).exists());
    // The slots: no RAUC service here either.
    let r = h.run(get("/api/v1/system/slots"));
    assert_eq!(r.status, 503);
    let r = h.run(get("/api/v1/system/update"));
    assert_eq!(r.status, 405);
}

#[test]
fn a_body_over_the_cap_is_cut_off_while_streaming() {
    let dir = std::env::temp_dir().join(format!("pbxgate-spool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x.raucb");
    let data = vec![7u8; 300_000];
    let r = smol::block_on(super::spool(&data[..], &path, 200_000));
    assert_eq!(r, Err(UpdateError::TooBig(0)));
    std::fs::remove_file(&path).unwrap();
    let r = smol::block_on(super::spool(&data[..], &path, 300_000));
    assert_eq!(r, Ok(300_000));
    assert_eq!(std::fs::read(&path).unwrap(), data);
}

#[test]
fn without_rauc_the_api_and_page_say_updates_need_the_appliance_image() {
    let mut h = Harness::new("update-norauc", Config::default());
    let mut rauc = rauc_here(&h.dir);
    rauc.program = "/nonexistent/rauc".into();
    h.ctx.updater = Some(Arc::new(rauc));
    let r = upload(&h, b"anything", "");
    assert_eq!(r.status, 503);
    assert_eq!(
        json_of(&r)["error"],
        json!("no RAUC on this system: updates need the appliance image (/nonexistent/rauc is not installed)")
    );
    let r = h.run(request(
        Method::Post,
        "/api/v1/system/reboot",
        b"",
        "text/plain",
    ));
    assert_eq!(r.status, 503);
    let page = body(&h.run(get("/system")));
    assert!(page.contains(r#"id="firmware-unavailable""#), "{page}");
    assert!(page.contains("no RAUC on this system"), "{page}");
    assert!(page.contains(r#"id="update-csrf" value="tok""#), "{page}");
    assert!(!page.contains("form-reboot"));
    assert!(uploads_left(&h.dir).is_empty());
}

/// Plays RAUC on a box running slot A with B empty.
struct Played {
    installed: Mutex<Option<String>>,
    calls: AtomicUsize,
}

impl Updater for Played {
    fn check(&self, bundle: &Path) -> Result<BundleInfo, UpdateError> {
        assert!(bundle.exists() && bundle.extension().unwrap() == "raucb");
        Ok(BundleInfo {
            compatible: "pbxgate-x86-gateway".into(),
            version: String::from_utf8(std::fs::read(bundle).unwrap()).unwrap(),
            description: None,
        })
    }
    fn install(&self, bundle: &Path) -> Result<(), UpdateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.installed.lock().unwrap() =
            Some(String::from_utf8(std::fs::read(bundle).unwrap()).unwrap());
        Ok(())
    }
    fn slots(&self) -> Result<Slots, UpdateError> {
        let installed = self.installed.lock().unwrap().clone();
        Ok(Slots {
            compatible: "pbxgate-x86-gateway".into(),
            primary: Some(
                if installed.is_some() {
                    "rootfs.1"
                } else {
                    "rootfs.0"
                }
                .into(),
            ),
            slots: vec![
                SlotInfo {
                    name: "rootfs.0".into(),
                    bootname: Some("A".into()),
                    booted: true,
                    good: Some(true),
                    version: None,
                    installed: None,
                },
                SlotInfo {
                    name: "rootfs.1".into(),
                    bootname: Some("B".into()),
                    booted: false,
                    good: Some(installed.is_some()),
                    version: installed,
                    installed: Some("2026-12-06T15:00:00Z".into()),
                },
            ],
        })
    }
    fn mark_booted(&self, _good: bool) -> Result<(), UpdateError> {
        Ok(())
    }
    fn mark_other_bad(&self) -> Result<(), UpdateError> {
        Ok(())
    }
    fn set_boot_attempts(&self, _attempts: u8) -> Result<(), UpdateError> {
        Ok(())
    }
    fn reboot(&self) -> Result<(), UpdateError> {
        Ok(())
    }
}

#[test]
fn an_installed_update_says_what_happens_next_and_the_page_shows_both_slots() {
    let mut config = Config::default();
    config.update.boot_attempts = 2;
    let mut h = Harness::new("update-played", config);
    let played = Arc::new(Played {
        installed: Mutex::new(None),
        calls: AtomicUsize::new(0),
    });
    h.ctx.updater = Some(played.clone());
    let r = upload(&h, b"1.2.3", "");
    assert_eq!(r.status, 200, "{}", body(&r));
    let v = json_of(&r);
    assert_eq!(v["installed"]["version"], json!("1.2.3"));
    assert_eq!(
        (v["slot"].clone(), v["bootname"].clone()),
        (json!("rootfs.1"), json!("B"))
    );
    assert_eq!(v["rebooting"], json!(false));
    let next = v["next"].as_str().unwrap();
    assert!(
        next.contains("POST /api/v1/system/reboot")
            && next.contains("2 boots")
            && next.contains("120 s"),
        "{next}"
    );
    assert_eq!(played.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        std::fs::read_to_string(h.dir.join(super::PENDING_FILE)).unwrap(),
        "rootfs.1\n"
    );
    assert!(uploads_left(&h.dir).is_empty());
    let r = h.run(get("/api/v1/system/slots"));
    assert_eq!(r.status, 200);
    let v = json_of(&r);
    assert_eq!(v["pending"], json!("rootfs.1"));
    assert_eq!(v["slots"][0]["booted"], json!(true));
    assert_eq!(v["slots"][1]["version"], json!("1.2.3"));
    let page = body(&h.run(get("/system")));
    assert!(page.contains(r#"<tr data-slot="rootfs.0" class="booted"><td>A (rootfs.0)</td><td>as flashed</td><td>running, good</td>"#), "{page}");
    assert!(
        page.contains(
            r#"<td>B (rootfs.1)</td><td>1.2.3</td><td>good, starts at the next reboot</td>"#
        ),
        "{page}"
    );
    assert!(page.contains(r#"id="form-reboot""#));
    let r = h.run(request(
        Method::Post,
        "/api/v1/system/reboot",
        b"",
        "text/plain",
    ));
    assert_eq!(r.status, 202);
}

#[test]
fn the_script_is_served() {
    let r = crate::web::assets::get("update.js").unwrap();
    assert!(String::from_utf8(r.body).unwrap().contains("X-CSRF-Token"));
    let _: Option<Request> = None;
}
