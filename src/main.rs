//! The `pbxgate` binary: reads the command line, loads (or creates) the
//! configuration, binds the listeners, says where everything is, and runs.

use std::path::PathBuf;
use std::process::ExitCode;

use pbxgate::config::{Config, ConfigStore};
use pbxgate::gateway::Gateway;

const USAGE: &str = "usage: pbxgate [--data-dir DIR] [--config FILE] [--check-config]

  --data-dir DIR   where the gateway keeps its config and state
                   (default: $PBXGATE_DATA_DIR, else ./data)
  --config FILE    the configuration file (default: DIR/pbxgate.toml; written
                   with the built-in defaults when it does not exist)
  --check-config   validate the configuration and exit
  --version        print the version and exit";

struct Args {
    data_dir: PathBuf,
    config: Option<PathBuf>,
    check_only: bool,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        data_dir: std::env::var_os("PBXGATE_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("data")),
        config: None,
        check_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--data-dir" => args.data_dir = it.next().ok_or("--data-dir needs a directory")?.into(),
            "--config" => args.config = Some(it.next().ok_or("--config needs a file")?.into()),
            "--check-config" => args.check_only = true,
            "--version" | "-V" => {
                println!("pbxgate {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    Ok(Some(args))
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(config.log.level.to_ascii_lowercase())
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pbxgate: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match &args.config {
        Some(path) => ConfigStore::at(path.clone()),
        None => ConfigStore::in_data_dir(&args.data_dir),
    };
    let loaded = match store.load_or_init() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("pbxgate: configuration refused: {e}");
            return ExitCode::from(1);
        }
    };
    let warnings = pbxgate::config::warnings(&loaded.config);
    if args.check_only {
        warnings
            .iter()
            .for_each(|w| eprintln!("pbxgate: warning: {w}"));
        println!("{}: ok", store.path().display());
        return ExitCode::SUCCESS;
    }
    init_logging(&loaded.config);
    warnings.iter().for_each(|w| tracing::warn!("{w}"));
    let gateway = match Gateway::bind(loaded.config) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("pbxgate: {e}");
            return ExitCode::from(1);
        }
    };

    let data_dir = std::fs::canonicalize(&args.data_dir).unwrap_or(args.data_dir.clone());
    let config_path = std::fs::canonicalize(store.path()).unwrap_or(store.path().to_path_buf());
    println!("pbxgate {} started", env!("CARGO_PKG_VERSION"));
    println!("  data:   {}", data_dir.display());
    if loaded.created {
        println!(
            "  config: {} (written now with the built-in defaults)",
            config_path.display()
        );
    } else {
        println!("  config: {}", config_path.display());
    }
    for l in &gateway.listeners {
        let mut parts = Vec::new();
        if let Some(a) = l.udp {
            parts.push(format!("udp {a}"));
        }
        if let Some(a) = l.tcp {
            parts.push(format!("tcp {a}"));
        }
        println!("  SIP {}: {}", l.name, parts.join(", "));
    }
    println!("  RTP:    {}", gateway.media_summary());
    println!("  web page: not built yet (it comes with the web page issue)");

    smol::block_on(gateway.run());
    ExitCode::SUCCESS
}
