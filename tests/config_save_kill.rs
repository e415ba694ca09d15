//! `kill -9` during a save leaves the old or the new configuration, never
//! a broken file (issue 19, "Apply without dropping calls").
//!
//! This test binary runs itself again as the saving process: with
//! `PBXGATE_SAVE_LOOP_DIR` set, `child_saving_in_a_loop` saves two
//! configurations in turn into that data directory, for ever, through
//! `ConfigStore::save_edited` (the web page's path). The parent kills it
//! with SIGKILL at a random moment, 50 times, and each time reads the file:
//! it must load as one of the two. The data directory is under Cargo's
//! target directory, on disk, so the fsyncs are real.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pbxgate::config::{Config, ConfigStore};

const CHILD_DIR: &str = "PBXGATE_SAVE_LOOP_DIR";
const KILLS: usize = 50;

/// Two valid configurations that differ in many places, with enough
/// routes (about 10 KB of text with the default comments) that a save
/// takes a while.
fn two_configs() -> (Config, Config) {
    let routes = |tag: &str, n: usize| {
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&format!(
                "[[route]]\nname = \"{tag}-{i}\"\nmatch = [{{ header = \"X-PH-RetreaverAFID\", equals = \"{i}\" }}]\n\
                 targets = [{{ uri = \"sip:q{i}@192.168.1.10\" }}, {{ uri = \"sip:q{i}@192.168.1.11\" }}]\n\
                 headers = [{{ action = \"set\", name = \"X-Queue\", value = \"{tag}\" }}]\n\n"
            ));
        }
        text
    };
    let a =
        Config::from_toml(&format!("[sip]\nt1_ms = 400\n\n{}", routes("a", 20))).expect("config a");
    let b = Config::from_toml(&format!(
        "[media]\nthreads = 2\n\n[calls]\nmax_concurrent = 20\n\n{}",
        routes("b", 15)
    ))
    .expect("config b");
    assert_ne!(a, b);
    (a, b)
}

/// Not a test on its own: the saving process of the test below, which
/// starts this binary again with `PBXGATE_SAVE_LOOP_DIR` set.
#[test]
fn child_saving_in_a_loop() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let store = ConfigStore::in_data_dir(Path::new(&dir));
    let (a, b) = two_configs();
    let mut current = store.load_or_init().expect("the parent wrote a").config;
    println!("saving");
    loop {
        let next = if current == a { &b } else { &a };
        store.save_edited(&current, next).expect("save");
        current = next.clone();
    }
}

/// The saving process, killed when dropped so a failed assertion does not
/// leave it saving.
struct Saver(Child);

impl Drop for Saver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct DataDir(PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn kill_9_during_saves_leaves_the_old_or_the_new_configuration() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let dir = DataDir(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("save-kill-{}", std::process::id())),
    );
    let _ = fs::remove_dir_all(&dir.0);
    let store = ConfigStore::in_data_dir(&dir.0);
    let (a, b) = two_configs();
    store
        .save_edited(&Config::default(), &a)
        .expect("first save");
    // How long a save takes here (an unoptimised build parses and checks
    // the whole file): the kills land at random within a few of them.
    let t = std::time::Instant::now();
    store.save_edited(&a, &b).expect("timed save");
    store.save_edited(&b, &a).expect("timed save");
    let save = t.elapsed() / 2;
    let exe = std::env::current_exe().expect("the test binary");
    let mut cut_short = 0;
    let mut seen = [0, 0];
    for round in 0..KILLS {
        let mut child = Saver(
            Command::new(&exe)
                .args(["--exact", "child_saving_in_a_loop", "--nocapture"])
                .env(CHILD_DIR, &dir.0)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start the saving process"),
        );
        let out = child.0.stdout.take().expect("its stdout");
        let started = BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("saving"));
        assert!(started, "round {round}: the saving process did not start");
        let window = u64::try_from(save.as_micros() * 4).unwrap_or(u64::MAX);
        std::thread::sleep(Duration::from_micros(fastrand::u64(0..window.max(1))));
        // Child::kill sends SIGKILL.
        child.0.kill().expect("SIGKILL");
        child.0.wait().expect("reaped");
        if store.path().with_extension("toml.tmp").exists() {
            cut_short += 1;
        }
        let text = fs::read_to_string(store.path()).expect("the file is there");
        let cfg = Config::from_toml(&text)
            .unwrap_or_else(|e| panic!("round {round}: the file does not load: {e}\n{text}"));
        match (cfg == a, cfg == b) {
            (true, _) => seen[0] += 1,
            (_, true) => seen[1] += 1,
            _ => panic!("round {round}: the file holds neither configuration\n{text}"),
        }
    }
    eprintln!(
        "a save takes {save:?}; {KILLS} kills: {} left a, {} left b, {cut_short} cut a save short (temp file left)",
        seen[0], seen[1]
    );
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "the kills should land on both configurations: {seen:?}"
    );
}
