//! The `pbxgate` binary: reads the command line, loads (or creates) the
//! configuration, binds the listeners, says where everything is, and runs.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use pbxgate::config::ConfigStore;
use pbxgate::gateway::{compile_with, web, Compiled, Gateway, Options};
use pbxgate::logging::Escaped;

const USAGE: &str =
    "usage: pbxgate [--data-dir DIR] [--config FILE] [--board NAME] [--check-config]
       pbxgate reset-password [--data-dir DIR]
       pbxgate linesim (--pty LINK | --port PATH [--baud N]) [--firmware NAME]
       pbxgate health-check [--data-dir DIR] [--config FILE] [--timeout S] [--act]

  --data-dir DIR   where the gateway keeps its config and state
                   (default: $PBXGATE_DATA_DIR, else ./data)
  --config FILE    the configuration file (default: DIR/pbxgate.toml; written
                   with the built-in defaults when it does not exist)
  --board NAME     the board this box is (rpi4, rpi5, x86-gateway): local
                   lines' default devices; replaces [system] board for this run
  --check-config   validate the configuration and exit; writes nothing
  --version        print the version and exit

  reset-password   give the web page's admin a new one-time password
                   (printed); the running gateway takes it at the next login

  linesim          play a line board (docs/line-protocol.md): --pty makes a
                   pseudo-terminal linked at LINK, --port uses a terminal
                   (baud 115200 unless --baud); a script on standard input

  health-check     whether the running gateway works: every SIP listener
                   answers, the web page answers /healthz, the configuration
                   loads; tried until [update] health_timeout_s (or
                   --timeout S). Exit 0 when it passes, 1 when not. --act (the
                   image's boot unit): mark the booted slot good through RAUC,
                   or reboot a freshly updated slot that failed
                   (docs/updates.md)

  --data-dir=DIR, --config=FILE and --board=NAME work as well.";

#[derive(Debug, PartialEq)]
struct Args {
    data_dir: PathBuf,
    config: Option<PathBuf>,
    /// `--board NAME`: the board for this run, over `[system] board`.
    board: Option<String>,
    check_only: bool,
}

#[derive(Debug, PartialEq)]
enum Command {
    Run(Args),
    ResetPassword(PathBuf),
    Version,
    Help,
}

/// Reads the arguments as the OS gave them: a directory or file name may be
/// any bytes (Linux paths are), an option must be one of ours.
fn parse_args(
    argv: impl IntoIterator<Item = OsString>,
    env_data_dir: Option<OsString>,
) -> Result<Command, String> {
    let mut args = Args {
        data_dir: env_data_dir
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("data")),
        config: None,
        board: None,
        check_only: false,
    };
    let mut it = argv.into_iter().peekable();
    let reset = it.peek().is_some_and(|a| a.as_bytes() == b"reset-password");
    if reset {
        it.next();
    }
    while let Some(arg) = it.next() {
        // `--name=value` is `--name value`.
        let (name, inline) = match arg.as_bytes().iter().position(|&b| b == b'=') {
            Some(i) if arg.as_bytes().starts_with(b"--") => (
                &arg.as_bytes()[..i],
                Some(OsStr::from_bytes(&arg.as_bytes()[i + 1..]).to_os_string()),
            ),
            _ => (arg.as_bytes(), None),
        };
        let Ok(name) = std::str::from_utf8(name) else {
            return Err(format!(
                "argument '{}' is not valid UTF-8, so it is no option pbxgate knows\n{USAGE}",
                Escaped(arg.as_bytes())
            ));
        };
        let mut value = |what: &str| -> Result<OsString, String> {
            match inline.clone().or_else(|| it.next()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(format!("{name} needs {what}\n{USAGE}")),
            }
        };
        match name {
            "--data-dir" => args.data_dir = value("a directory")?.into(),
            "--config" if !reset => args.config = Some(value("a file")?.into()),
            "--board" if !reset => {
                let v = value("a board name")?;
                // Board names are ASCII; whether one exists is said by
                // the configuration's check, with the names there are.
                let Some(name) = v.to_str() else {
                    return Err(format!(
                        "--board '{}' is not a board name\n{USAGE}",
                        Escaped(v.as_bytes())
                    ));
                };
                args.board = Some(name.to_string());
            }
            "--check-config" if inline.is_none() && !reset => args.check_only = true,
            "--version" | "-V" if inline.is_none() => return Ok(Command::Version),
            "--help" | "-h" if inline.is_none() => return Ok(Command::Help),
            _ => {
                return Err(format!(
                    "unknown argument '{}'\n{USAGE}",
                    Escaped(arg.as_bytes())
                ))
            }
        }
    }
    if reset {
        return Ok(Command::ResetPassword(args.data_dir));
    }
    Ok(Command::Run(args))
}

/// Prints a line for the operator. Standard output may be closed by
/// then (a supervisor or a script that read the lines it wanted): the
/// gateway must run on, where `println!` would panic on the broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let argv = std::env::args_os().skip(1);
    let mut argv = argv.peekable();
    if argv.peek().is_some_and(|a| a == "linesim") {
        return linesim(argv.skip(1));
    }
    if argv.peek().is_some_and(|a| a == "health-check") {
        return health_check(argv.skip(1));
    }
    let args = match parse_args(argv, std::env::var_os("PBXGATE_DATA_DIR")) {
        Ok(Command::Run(a)) => a,
        Ok(Command::ResetPassword(data_dir)) => return reset_password(&data_dir),
        Ok(Command::Version) => {
            say!("pbxgate {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Command::Help) => {
            say!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("pbxgate: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match &args.config {
        Some(path) => ConfigStore::at(path.clone()),
        None => ConfigStore::in_data_dir(&args.data_dir),
    };
    let options = Options {
        board: args.board.clone(),
        ..Options::default()
    };
    if args.check_only {
        return check_config(&store, &options);
    }
    let (compiled, existed) = match read_config(&store, &options, false) {
        Ok(c) => c,
        Err(code) => return code,
    };
    pbxgate::logging::init(&compiled.config.log.level);
    if let Some(wide) = store.wide_mode() {
        tracing::warn!("{wide}");
    }
    for w in &compiled.warnings {
        tracing::warn!("configuration: {w}");
    }
    let mut gateway = match Gateway::bind(compiled) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("pbxgate: {e}");
            return ExitCode::from(1);
        }
    };

    let data_dir = std::fs::canonicalize(&args.data_dir).unwrap_or(args.data_dir.clone());
    let config_path = std::fs::canonicalize(store.path()).unwrap_or(store.path().to_path_buf());
    say!("pbxgate {} started", env!("CARGO_PKG_VERSION"));
    say!("  data:   {}", data_dir.display());
    if existed {
        say!("  config: {}", config_path.display());
    } else {
        say!(
            "  config: {} (written now with the built-in defaults)",
            config_path.display()
        );
    }
    for l in &gateway.listeners {
        let mut parts = Vec::new();
        if let Some(a) = l.udp {
            parts.push(format!("udp {a}"));
        }
        if let Some(a) = l.tcp {
            parts.push(format!("tcp {a}"));
        }
        if let Some(a) = l.tls {
            parts.push(format!("tls {a}"));
        }
        say!("  SIP {}: {}", l.name, parts.join(", "));
    }
    match gateway.start_tls(&data_dir) {
        Ok(Some(tls)) => say!("  SIP TLS: {tls}"),
        Ok(None) => {}
        Err(e) => {
            eprintln!("pbxgate: {e}");
            return ExitCode::from(1);
        }
    }
    say!("  RTP:    {}", gateway.media_summary());
    say!("  history: {}", gateway.start_history(&data_dir));
    say!("  network: {}", gateway.start_network(&data_dir));
    if let Some(mqtt) = gateway.start_mqtt(&data_dir) {
        say!("  mqtt:   {mqtt}");
    }
    gateway.set_config_store(store.clone());
    let web = match web::start(&gateway, data_dir.clone(), config_path.clone()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("pbxgate: {e}");
            return ExitCode::from(1);
        }
    };
    match &web {
        Some(w) => {
            say!(
                "  web page: {} (certificate SHA-256 {})",
                w.url,
                w.fingerprint
            );
            if let Some(pw) = &w.one_time_password {
                let line = format!("web login: admin / {pw} (one-time: you will set your own)");
                say!("  {line}");
                tracing::warn!("{line}");
            }
        }
        None => say!("  web page: off (web.enabled = false)"),
    }

    // Under systemd (the appliance's Type=notify unit): ready once the
    // listeners are bound and the web page is up; the watchdog is fed while
    // the signalling loop turns.
    let notifier = pbxgate::gateway::Notifier::from_env();
    if let Some(n) = &notifier {
        n.ready(&format!("pbxgate {} running", env!("CARGO_PKG_VERSION")));
        n.start_watchdog(gateway.status());
    }
    smol::block_on(async move {
        if let Some(w) = web {
            smol::spawn(w.run()).detach();
        }
        gateway.run().await
    });
    if let Some(n) = &notifier {
        n.stopping();
    }
    if pbxgate::gateway::restart_requested() {
        return restart();
    }
    ExitCode::SUCCESS
}

/// `pbxgate reset-password`: a new one-time admin password in the data
/// directory's users file, printed once.
fn reset_password(data_dir: &std::path::Path) -> ExitCode {
    match web::reset_password(data_dir) {
        Ok(pw) => {
            say!("web login: admin / {pw} (one-time: you will set your own)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pbxgate: cannot reset the web password: {e}");
            ExitCode::from(1)
        }
    }
}

/// Starts this program again in this process, with the same arguments
/// (asked for from the web page once the loop has stopped cleanly). The
/// sockets are closed on exec, so the new start binds them again.
fn restart() -> ExitCode {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("pbxgate: cannot restart: the program's path is unknown: {e}");
            return ExitCode::FAILURE;
        }
    };
    say!("pbxgate: restarting");
    let e = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("pbxgate: cannot restart {}: {e}", exe.display());
    ExitCode::FAILURE
}

/// `--check-config`: validates the file, or the built-in defaults when
/// there is none, and writes nothing (no data directory, no file).
fn check_config(store: &ConfigStore, options: &Options) -> ExitCode {
    let (compiled, exists) = match read_config(store, options, true) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(wide) = store.wide_mode() {
        eprintln!("pbxgate: warning: {wide}");
    }
    for w in &compiled.warnings {
        eprintln!("pbxgate: warning: {w}");
    }
    if exists {
        say!("{}: ok", store.path().display());
    } else {
        say!(
            "{}: not there; the built-in defaults are valid and would be written there on the first start",
            store.path().display()
        );
    }
    ExitCode::SUCCESS
}

/// The configuration file compiled as a start compiles it, so a file
/// `--check-config` accepts starts; and whether the file was there. A
/// missing file is written with the defaults, unless `check_only`. A
/// refusal is said on stderr and is exit status 1.
fn read_config(
    store: &ConfigStore,
    options: &Options,
    check_only: bool,
) -> Result<(Compiled, bool), ExitCode> {
    let read = if check_only {
        store.check().map(|c| (c.config, c.exists))
    } else {
        store.load_or_init().map(|l| (l.config, !l.created))
    };
    read.and_then(|(config, existed)| Ok((compile_with(config, options)?, existed)))
        .map_err(|e| {
            eprintln!("pbxgate: configuration refused: {e}");
            ExitCode::from(1)
        })
}

/// `pbxgate linesim ...`: the line-board simulator (docs/line-protocol.md).
fn linesim(argv: impl Iterator<Item = OsString>) -> ExitCode {
    use pbxgate::gateway::linesim::{run, SimPort};
    let mut args = argv.map(|a| a.to_string_lossy().into_owned());
    let (mut pty, mut port, mut baud, mut firmware) = (None, None, 115_200u32, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let r = match arg.as_str() {
            "--pty" => value().map(|v| pty = Some(PathBuf::from(v))),
            "--port" => value().map(|v| port = Some(v)),
            "--baud" => value().and_then(|v| {
                v.parse()
                    .map(|b| baud = b)
                    .map_err(|_| format!("--baud '{v}' is not a number"))
            }),
            "--firmware" => value().map(|v| firmware = Some(v)),
            _ => Err(format!("unknown argument '{arg}'")),
        };
        if let Err(e) = r {
            eprintln!("pbxgate linesim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let where_ = match (pty, port) {
        (Some(link), None) => SimPort::Pty(link),
        (None, Some(path)) => SimPort::Device { path, baud },
        _ => {
            eprintln!("pbxgate linesim: give one of --pty LINK or --port PATH\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let default_fw = format!("linesim-{}", env!("CARGO_PKG_VERSION"));
    match run(where_, firmware.as_deref().unwrap_or(&default_fw)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pbxgate linesim: {e}");
            ExitCode::from(1)
        }
    }
}

/// `pbxgate health-check`: see USAGE and docs/updates.md.
fn health_check(argv: impl Iterator<Item = OsString>) -> ExitCode {
    use pbxgate::gateway::update::{health, system_updater};
    let mut data_dir = std::env::var_os("PBXGATE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"));
    let (mut config, mut timeout, mut act) = (None, None, false);
    let mut args = argv.map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let r = match arg.as_str() {
            "--data-dir" => value().map(|v| data_dir = PathBuf::from(v)),
            "--config" => value().map(|v| config = Some(PathBuf::from(v))),
            "--timeout" => value().and_then(|v| match v.parse::<u64>() {
                Ok(s) if s > 0 => {
                    timeout = Some(std::time::Duration::from_secs(s));
                    Ok(())
                }
                _ => Err(format!("--timeout '{v}' is not a number of seconds")),
            }),
            "--act" => {
                act = true;
                Ok(())
            }
            _ => Err(format!("unknown argument '{arg}'")),
        };
        if let Err(e) = r {
            eprintln!("pbxgate health-check: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let store = match config {
        Some(path) => ConfigStore::at(path),
        None => ConfigStore::in_data_dir(&data_dir),
    };
    let report = if act {
        let updater = system_updater();
        // What was found and what is done about it are said before it is
        // done: a reboot may leave no time afterwards.
        let mut tell = |report: &health::Report, action: &health::Action| {
            tell_health(report);
            say!("pbxgate health-check: {action}");
        };
        match health::run(&store, &data_dir, &*updater, timeout, &mut tell) {
            Ok((report, action)) => {
                // Marked (or left alone): the slot flags are as said. A
                // reboot is under way instead.
                if action != health::Action::Reboot {
                    say!("pbxgate health-check: done");
                }
                report
            }
            Err(e) => {
                eprintln!("pbxgate health-check: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        let timeout = timeout.unwrap_or_else(|| {
            let s = store.check().map(|c| c.config.update.health_timeout_s);
            std::time::Duration::from_secs(u64::from(s.unwrap_or(120)))
        });
        let report = health::check(&store, &data_dir, timeout);
        tell_health(&report);
        report
    };
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The health check's outcome in words: passed, or each failure.
fn tell_health(report: &pbxgate::gateway::update::health::Report) {
    if report.passed {
        say!(
            "pbxgate health-check: passed in {} s",
            report.took.as_secs()
        );
    } else {
        for f in &report.failures {
            eprintln!("pbxgate health-check: {f}");
        }
        eprintln!(
            "pbxgate health-check: failed after {} s",
            report.took.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&[u8]]) -> Result<Command, String> {
        let argv = args.iter().map(|a| OsStr::from_bytes(a).to_os_string());
        parse_args(argv, None)
    }

    fn run(data_dir: &str, config: Option<&str>, check_only: bool) -> Command {
        Command::Run(Args {
            data_dir: data_dir.into(),
            config: config.map(PathBuf::from),
            board: None,
            check_only,
        })
    }

    #[test]
    fn a_board_is_taken_by_name() {
        let want = Command::Run(Args {
            data_dir: "data".into(),
            config: None,
            board: Some("rpi5".into()),
            check_only: true,
        });
        assert_eq!(
            parse(&[b"--board", b"rpi5", b"--check-config"]).unwrap(),
            want
        );
        assert_eq!(parse(&[b"--board=rpi5", b"--check-config"]).unwrap(), want);
        let e = parse(&[b"--board"]).unwrap_err();
        assert!(e.starts_with("--board needs a board name"), "{e}");
        let e = parse(&[b"--board=rp\xffi"]).unwrap_err();
        assert!(
            e.starts_with("--board 'rp\\xffi' is not a board name"),
            "{e}"
        );
        assert!(parse(&[b"reset-password", b"--board", b"rpi4"]).is_err());
    }

    #[test]
    fn both_forms_of_a_value_are_read() {
        let want = run("/srv/d", Some("/etc/p.toml"), true);
        let two_words: &[&[u8]] = &[
            b"--data-dir",
            b"/srv/d",
            b"--config",
            b"/etc/p.toml",
            b"--check-config",
        ];
        let one_word: &[&[u8]] = &[
            b"--data-dir=/srv/d",
            b"--config=/etc/p.toml",
            b"--check-config",
        ];
        assert_eq!(parse(two_words).unwrap(), want);
        assert_eq!(parse(one_word).unwrap(), want);
        // Only the first '=' splits: a value may hold more.
        assert_eq!(
            parse(&[b"--data-dir=a=b"]).unwrap(),
            run("a=b", None, false)
        );
    }

    #[test]
    fn defaults_come_from_the_environment_then_data() {
        assert_eq!(parse(&[]).unwrap(), run("data", None, false));
        let from_env = parse_args(Vec::<OsString>::new(), Some("/var/lib/p".into()));
        assert_eq!(from_env.unwrap(), run("/var/lib/p", None, false));
    }

    #[test]
    fn reset_password_takes_a_data_dir_only() {
        assert_eq!(
            parse(&[b"reset-password", b"--data-dir", b"/srv/d"]).unwrap(),
            Command::ResetPassword("/srv/d".into())
        );
        assert_eq!(
            parse(&[b"reset-password"]).unwrap(),
            Command::ResetPassword("data".into())
        );
        assert!(parse(&[b"reset-password", b"--config", b"x"]).is_err());
        assert!(parse(&[b"--data-dir", b"d", b"reset-password"]).is_err());
    }

    #[test]
    fn a_path_may_be_any_bytes() {
        let got = parse(&[b"--data-dir=/tmp/d\xff"]).unwrap();
        let want = PathBuf::from(OsStr::from_bytes(b"/tmp/d\xff"));
        assert!(matches!(got, Command::Run(a) if a.data_dir == want));
    }

    #[test]
    fn bad_arguments_are_explained() {
        let e = parse(&[b"--bogus\xff\x1b[2J"]).unwrap_err();
        assert!(
            e.starts_with("argument '--bogus\\xff\\x1b[2J' is not valid UTF-8"),
            "{e}"
        );
        let e = parse(&[b"--verbose"]).unwrap_err();
        assert!(e.starts_with("unknown argument '--verbose'"), "{e}");
        for missing in [
            &[b"--data-dir" as &[u8]][..],
            &[b"--data-dir="],
            &[b"--config"],
        ] {
            let e = parse(missing).unwrap_err();
            assert!(e.contains("needs a"), "{e}");
        }
        let e = parse(&[b"--check-config=yes"]).unwrap_err();
        assert!(
            e.starts_with("unknown argument '--check-config=yes'"),
            "{e}"
        );
    }
}
