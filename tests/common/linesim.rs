//! The line-board simulator (`pbxgate linesim --pty LINK`) as a test's
//! line board: the test drives it with script lines and reads what it
//! printed (`<< COMMAND` received, `>> EVENT` sent).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

pub struct Sim {
    child: Child,
    stdin: ChildStdin,
    out: mpsc::Receiver<String>,
}

impl Sim {
    pub fn start(link: &Path) -> Sim {
        let mut child = Process::new(env!("CARGO_BIN_EXE_pbxgate"))
            .arg("linesim")
            .arg("--pty")
            .arg(link)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, out) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let sim = Sim { child, stdin, out };
        sim.expect("linesim: ");
        sim
    }

    pub fn say(&mut self, script: &str) {
        writeln!(self.stdin, "{script}").unwrap();
    }

    /// The next printed line that starts with `prefix` (others are skipped).
    pub fn expect(&self, prefix: &str) -> String {
        let end = Instant::now() + WAIT;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(e) => panic!("simulator printed no '{prefix}': {e}"),
            }
        }
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
