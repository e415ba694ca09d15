//! The shell of `pbxgate linesim`: a pseudo-terminal (or an existing serial
//! port), standard input for the script, standard output for what passes.
//! The board itself is `sim::SimBoard`; this file only moves bytes and time.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::framer::LineFramer;
use super::protocol::Firmware;
use super::sim::{Script, SimBoard};

/// Where the simulated board listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimPort {
    /// Make a pseudo-terminal and point this symlink at its terminal side.
    Pty(PathBuf),
    /// An existing terminal: a serial port, or one end of a pair.
    Device { path: String, baud: u32 },
}

/// Why the simulator stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot make a pseudo-terminal: {0}")]
    Pty(io::Error),
    #[error("cannot link {link} to the pseudo-terminal: {source}")]
    Link { link: PathBuf, source: io::Error },
    #[error("cannot open {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("the port failed: {0}")]
    Port(io::Error),
    #[error("firmware name: {0}")]
    Firmware(super::protocol::LineError),
}

enum Input {
    Port(Vec<u8>),
    PortGone(io::Error),
    Script(String),
    ScriptEnd,
}

macro_rules! say {
    ($($arg:tt)*) => {{
        // Standard output may be a closed pipe; the board goes on.
        let _ = writeln!(io::stdout(), $($arg)*);
    }};
}

/// A pseudo-terminal whose terminal side is raw (no echo: the box's lines
/// must not come back to the board) and held open here, so the controlling
/// side never reads a hangup while no box has the port open.
struct Pty {
    master: File,
    _slave: OwnedFd,
    name: String,
}

fn open_pty() -> io::Result<Pty> {
    let mut master = -1;
    let mut slave = -1;
    // SAFETY: openpty writes two descriptors; name, termios and winsize may be null.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    use std::os::fd::AsRawFd;
    // SAFETY: termios is plain data; tcgetattr fills it before use.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut t) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut t);
        if libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let mut buf = [0 as libc::c_char; 128];
    // SAFETY: the buffer's length is passed; ptsname_r NUL-terminates on success.
    let r = unsafe { libc::ptsname_r(master.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    // SAFETY: NUL-terminated by ptsname_r.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    Ok(Pty {
        master,
        _slave: slave,
        name,
    })
}

/// Points `link` at `target` in one step (a reader never sees no link while
/// an old one is replaced).
fn relink(link: &Path, target: &str) -> io::Result<()> {
    let mut tmp = link.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

/// Runs the simulator until `quit` or the end of standard input.
pub fn run(port: SimPort, firmware: &str) -> Result<(), SimError> {
    let firmware = Firmware::new("firmware", firmware).map_err(SimError::Firmware)?;
    let mut board = SimBoard::new(firmware, Instant::now());
    let (mut writer, reader, link): (Box<dyn Write + Send>, Box<dyn Read + Send>, _) = match &port {
        SimPort::Pty(link) => {
            let mut pty = open_pty().map_err(SimError::Pty)?;
            // Power-up lines go out before the port appears at the link, as
            // a board is on before its cable is plugged: a box that opens the
            // port discards them and asks with RESET (docs/line-protocol.md).
            flush_due(&mut board, &mut pty.master).map_err(SimError::Port)?;
            relink(link, &pty.name).map_err(|source| SimError::Link {
                link: link.clone(),
                source,
            })?;
            say!("linesim: {} linked at {}", pty.name, link.display());
            let reader = pty.master.try_clone().map_err(SimError::Pty)?;
            // The terminal side lives as long as the reader thread, which
            // lives as long as the process.
            let reader = PtyReader {
                master: reader,
                _slave: pty._slave,
            };
            (Box::new(pty.master), Box::new(reader), Some(link.clone()))
        }
        SimPort::Device { path, baud } => {
            let open_err = |e: serialport::Error| SimError::Open {
                path: path.clone(),
                reason: e.to_string(),
            };
            let port = serialport::new(path.as_str(), *baud)
                .timeout(Duration::from_millis(100))
                .open_native()
                .map_err(open_err)?;
            let reader = port.try_clone_native().map_err(open_err)?;
            say!("linesim: on {path} at {baud} baud");
            (Box::new(port), Box::new(reader), None)
        }
    };

    let (tx, rx) = mpsc::channel();
    let port_tx = tx.clone();
    std::thread::spawn(move || read_port(reader, port_tx));
    std::thread::spawn(move || read_script(tx));

    let result = serve(&mut board, &mut *writer, &rx);
    if let Some(link) = link {
        let _ = std::fs::remove_file(link);
    }
    result
}

struct PtyReader {
    master: File,
    _slave: OwnedFd,
}

impl Read for PtyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.master.read(buf)
    }
}

fn read_port(mut reader: Box<dyn Read + Send>, tx: mpsc::Sender<Input>) {
    let mut buf = [0u8; 256];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => {
                let _ = tx.send(Input::PortGone(io::ErrorKind::UnexpectedEof.into()));
                return;
            }
            Ok(n) => {
                if tx.send(Input::Port(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                let _ = tx.send(Input::PortGone(e));
                return;
            }
        }
    }
}

fn read_script(tx: mpsc::Sender<Input>) {
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if tx.send(Input::Script(line)).is_err() {
            return;
        }
    }
    let _ = tx.send(Input::ScriptEnd);
}

/// Sends the lines that are due and prints them.
fn flush_due(board: &mut SimBoard, writer: &mut dyn Write) -> io::Result<()> {
    while let Some(line) = board.poll_transmit(Instant::now()) {
        writer.write_all(&line)?;
        say!(">> {}", String::from_utf8_lossy(line.trim_ascii_end()));
    }
    Ok(())
}

fn serve(
    board: &mut SimBoard,
    writer: &mut dyn Write,
    rx: &mpsc::Receiver<Input>,
) -> Result<(), SimError> {
    let mut framer = LineFramer::new();
    let mut quitting = false;
    loop {
        flush_due(board, writer).map_err(SimError::Port)?;
        let now = Instant::now();
        let next = board.poll_timeout();
        if quitting && next.is_none() {
            return Ok(());
        }
        let wait = next.map_or(Duration::from_secs(3600), |t| {
            t.saturating_duration_since(now)
        });
        let input = match rx.recv_timeout(wait) {
            Ok(input) => input,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let now = Instant::now();
        match input {
            Input::Port(bytes) => framer.push(&bytes, |line| {
                let shown = match &line {
                    Ok(l) => String::from_utf8_lossy(l.trim_ascii_end()).into_owned(),
                    Err(_) => String::from("(over-long line)"),
                };
                let handled = match line {
                    Ok(l) => board.handle_command(l, now),
                    Err(e) => {
                        board.refuse(&e, now);
                        Err(e)
                    }
                };
                match handled {
                    Ok(_) => say!("<< {shown}"),
                    Err(e) => say!("!! bad command '{shown}': {e}"),
                }
            }),
            Input::PortGone(e) => return Err(SimError::Port(e)),
            Input::Script(line) => match board.handle_script(&line, now) {
                Ok(Script::Go) => {}
                Ok(Script::Quit) => quitting = true,
                Err(e) => say!("!! script: {e}"),
            },
            Input::ScriptEnd => quitting = true,
        }
    }
}
