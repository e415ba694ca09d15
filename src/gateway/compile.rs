//! The one place the configuration becomes the gateway's runtime parts:
//! the router, admission per listener, the registrations. Loading the file
//! checks the data (`Config::validate`); what needs SIP or the routing
//! rules is read here, once, with errors that name the field. Start-up and
//! `--check-config` both come through here, so a file the check accepts
//! starts.

use std::sync::Arc;

use crate::app::network::NetworkPlan;
use crate::app::{registration_plan, RegistrationPlan};
use crate::config::{Config, ConfigError};
use crate::line::board::Board;
use crate::line::boards;
use crate::line::spec::LineSpec;
use crate::policy::{Admission, Allowlist};
use crate::routing::{route_warnings, Router};

/// A configuration compiled for running.
pub struct Compiled {
    pub config: Config,
    pub router: Arc<Router>,
    /// Per listener, in configuration order.
    pub admission: Vec<Admission>,
    /// Per enabled account: its index in `config.accounts` and its plan.
    pub registrations: Vec<(usize, RegistrationPlan)>,
    /// What still works but deserves a look (`--check-config` prints them,
    /// the gateway logs them at start).
    pub warnings: Vec<String>,
    /// The board selected (`--board`, else `[system] board`), if any.
    pub board: Option<Board>,
    /// The local lines, in configuration order, with the board's defaults
    /// filled in.
    pub lines: Vec<LineSpec>,
    /// `[network]` with the board's first interface as the default.
    pub network: NetworkPlan,
    /// What it was compiled with, so a save compiles the same way.
    pub options: Options,
}

/// How a configuration is compiled besides its own content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `pbxgate --board NAME`: replaces `[system] board` for this run
    /// (the file is not changed).
    pub board: Option<String>,
    /// Whether this binary can run local lines' audio (the cargo feature
    /// `alsa`); a parameter so both answers are tested in either build.
    pub alsa: bool,
}

// `alsa` is true in a build with the feature: not derivable there.
#[allow(clippy::derivable_impls)]
impl Default for Options {
    fn default() -> Options {
        Options {
            board: None,
            alsa: cfg!(feature = "alsa"),
        }
    }
}

/// Compiles with the default options: the board of the file, and this
/// binary's ALSA support.
pub fn compile(config: Config) -> Result<Compiled, ConfigError> {
    compile_with(config, &Options::default())
}

pub fn compile_with(config: Config, options: &Options) -> Result<Compiled, ConfigError> {
    config.validate()?;
    let mut admission = Vec::with_capacity(config.listeners.len());
    for (i, l) in config.listeners.iter().enumerate() {
        match Admission::from_listener(l) {
            Ok(a) => admission.push(a),
            Err(e) => {
                // Name the entry at fault: parse them one by one (only on
                // this error path).
                let entries = l.allow.as_deref().unwrap_or_default();
                let j = entries
                    .iter()
                    .position(|entry| Allowlist::parse(&[entry]).is_err())
                    .unwrap_or(0);
                return Err(ConfigError::invalid(format!("listener[{i}].allow[{j}]"), e));
            }
        }
    }
    let router = Router::compile(
        &config.routes,
        &config.accounts,
        &config.lines,
        &config.emergency,
    )?;
    let mut registrations = Vec::new();
    for (i, account) in config.accounts.iter().enumerate() {
        // Every account is read, so a disabled one is ready when enabled.
        let plan = registration_plan(i, account, &config.sip.user_agent)?;
        if account.enabled {
            registrations.push((i, plan));
        }
    }
    let board = select_board(&config, options)?;
    let lines = config
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| LineSpec::resolve(i, l, board.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    check_line_support(&lines, options.alsa)?;
    let network = NetworkPlan::resolve(
        &config.network,
        board.as_ref().map(|b| b.network.wan.as_str()),
    )?;
    let mut warnings = config.media.warnings();
    warnings.extend(config.calls.warnings(&config.history));
    warnings.extend(route_warnings(&router));
    Ok(Compiled {
        config,
        router: Arc::new(router),
        admission,
        registrations,
        warnings,
        board,
        lines,
        network,
        options: options.clone(),
    })
}

/// The board named by `--board`, else by `[system] board`, from those
/// built into the binary.
fn select_board(config: &Config, options: &Options) -> Result<Option<Board>, ConfigError> {
    let (field, name) = match (&options.board, &config.system.board) {
        (Some(name), _) => ("--board", name),
        (None, Some(name)) => ("system.board", name),
        (None, None) => return Ok(None),
    };
    match boards::built_in(name) {
        Some(Ok(board)) => Ok(Some(board)),
        // The built-in files are checked by a test; kept as an error, not
        // a panic, all the same.
        Some(Err(e)) => Err(ConfigError::invalid(field, e.to_string())),
        None => Err(ConfigError::invalid(
            field,
            format!(
                "no board is named '{name}'; this pbxgate knows {}",
                boards::names()
            ),
        )),
    }
}

/// A binary built without the `alsa` feature cannot run a line: refuse
/// the configuration (at start, `--check-config` and a save) with how to
/// get one that can, rather than start with a line that never works.
pub fn check_line_support(lines: &[LineSpec], alsa: bool) -> Result<(), ConfigError> {
    match lines.first() {
        Some(line) if !alsa => Err(ConfigError::invalid(
            format!("line '{}'", line.name),
            "this pbxgate was built without ALSA support; build it with \
             `cargo build --release --features alsa` (needs libasound2-dev)",
        )),
        _ => Ok(()),
    }
}

/// Parses TOML text and compiles it: for tests and tools that start from
/// text.
pub fn compile_toml(text: &str) -> Result<Compiled, String> {
    let config = Config::from_toml(text)?;
    compile(config).map_err(|e| e.to_string())
}

/// The same with `options`.
pub fn compile_toml_with(text: &str, options: &Options) -> Result<Compiled, String> {
    let config = Config::from_toml(text)?;
    compile_with(config, options).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_needs_sip_or_routing_is_refused_here_naming_the_field() {
        for (toml, field) in [
            (
                "[[listener]]\nname='wan'\nside='wan'\nbind='127.0.0.1:5060'\n\
                 allow=['10.0.0.0/8', 'not-a-net']\n",
                "listener[0].allow[1]",
            ),
            (
                "[[account]]\nname='sw'\nregistrar='sip:bob@example.com'\nusername='a'\n",
                "account[0].registrar",
            ),
            (
                "[[account]]\nname='sw'\nregistrar='sip:example.com;transport=tcp'\nusername='a'\n",
                "account[0].registrar",
            ),
            (
                "[[route]]\nname='r'\ntargets=[{ uri='sip:' }]\n",
                "route[0].targets[0].uri",
            ),
        ] {
            // The data alone is fine...
            Config::from_toml(toml).unwrap_or_else(|e| panic!("{toml}: {e}"));
            // ... what it means is not.
            let e = compile_toml(toml).err().unwrap_or_else(|| panic!("{toml}"));
            assert!(e.contains(field), "{toml}: {e}");
        }
    }

    #[test]
    fn the_defaults_compile_with_the_emergency_warning() {
        let c = compile(Config::default()).expect("defaults");
        assert_eq!(c.admission.len(), 2);
        assert!(c.registrations.is_empty());
        assert!(
            c.warnings
                .iter()
                .any(|w| w.starts_with("emergency.numbers")),
            "{:?}",
            c.warnings
        );
    }

    const LINE: &str = "[[line]]\nname = 'desk'\nextension = '201'\n";

    fn with_alsa(board: Option<&str>) -> Options {
        Options {
            board: board.map(str::to_string),
            alsa: true,
        }
    }

    #[test]
    fn lines_take_the_selected_board_s_devices() {
        let text = format!("[system]\nboard = 'rpi4'\n{LINE}");
        let c = compile_toml_with(&text, &with_alsa(None)).expect("compiles");
        assert_eq!(c.board.as_ref().map(|b| b.name.as_str()), Some("rpi4"));
        assert_eq!(c.lines.len(), 1);
        assert_eq!(c.lines[0].name, "desk");
        assert_eq!(c.lines[0].extension, "201");
        assert_eq!(c.lines[0].serial_port, "/dev/serial0");
        // --board replaces the file's board.
        let c = compile_toml_with(&text, &with_alsa(Some("x86-gateway"))).expect("compiles");
        assert_eq!(c.lines[0].serial_port, "/dev/ttyS0");
        let c = compile_toml_with(LINE, &with_alsa(Some("rpi5"))).expect("compiles");
        assert_eq!(c.lines[0].serial_port, "/dev/ttyAMA0");
        assert_eq!(c.options, with_alsa(Some("rpi5")));
        // No board: the line must name its devices.
        let e = compile_toml_with(LINE, &with_alsa(None))
            .err()
            .expect("refused");
        assert!(
            e.starts_with("line[0].capture: not set and no board selected; set capture = \""),
            "{e}"
        );
        // A board selected without lines is fine, and the defaults have none.
        let c = compile_toml_with("[system]\nboard = 'rpi5'\n", &with_alsa(None)).expect("ok");
        assert!(c.lines.is_empty() && c.board.is_some());
        let c = compile(Config::default()).expect("defaults");
        assert!(c.lines.is_empty() && c.board.is_none());
    }

    #[test]
    fn a_static_address_goes_on_the_board_s_first_interface_unless_named() {
        use crate::app::network::NetworkPlan;
        let net = "[network]\nmode = 'static'\naddress = '10.0.2.15/24'\n";
        let iface = |c: &Compiled| match &c.network {
            NetworkPlan::Static(s) => s.interface.clone(),
            NetworkPlan::Dhcp => "dhcp".into(),
        };
        let c = compile_toml_with(net, &with_alsa(Some("x86-gateway"))).expect("compiles");
        assert_eq!(iface(&c), "enp1s0");
        let text = format!("[system]\nboard = 'rpi4'\n{net}");
        assert_eq!(iface(&compile_toml(&text).expect("compiles")), "eth0");
        let text = format!("{net}interface = 'ens3'\n");
        assert_eq!(
            iface(&compile_toml_with(&text, &with_alsa(Some("rpi5"))).expect("compiles")),
            "ens3"
        );
        // No board and no interface: refused at start, --check-config and
        // a save alike.
        let e = compile_toml(net).err().expect("refused");
        assert!(
            e.starts_with("network.interface: not set and no board selected"),
            "{e}"
        );
        assert_eq!(
            iface(&compile(Config::default()).expect("defaults")),
            "dhcp"
        );
    }

    #[test]
    fn an_unknown_board_is_refused_naming_the_ones_there_are() {
        let e = compile_toml_with("[system]\nboard = 'rpi3'\n", &with_alsa(None))
            .err()
            .expect("refused");
        assert_eq!(
            e,
            "system.board: no board is named 'rpi3'; this pbxgate knows rpi4, rpi5, x86-gateway"
        );
        let e = compile_toml_with("", &with_alsa(Some("pc")))
            .err()
            .expect("refused");
        assert!(e.starts_with("--board: no board is named 'pc'"), "{e}");
        let e = compile_toml_with("[system]\nboard = '../x'\n", &with_alsa(None))
            .err()
            .expect("refused");
        assert!(
            e.starts_with("system.board: '../x' is not a board name"),
            "{e}"
        );
    }

    #[test]
    fn a_build_without_alsa_refuses_a_line_and_says_how_to_build_one() {
        let text = format!("[system]\nboard = 'rpi4'\n{LINE}");
        let without = Options {
            board: None,
            alsa: false,
        };
        let e = compile_toml_with(&text, &without).err().expect("refused");
        assert_eq!(
            e,
            "line 'desk': this pbxgate was built without ALSA support; build it with \
             `cargo build --release --features alsa` (needs libasound2-dev)"
        );
        // Without lines, nothing is asked of the build.
        compile_toml_with("[system]\nboard = 'rpi4'\n", &without).expect("no lines");
        compile_toml_with(&text, &with_alsa(None)).expect("with ALSA");
        // This build answers as its feature says.
        assert_eq!(Options::default().alsa, cfg!(feature = "alsa"));
        assert_eq!(compile_toml(&text).is_ok(), cfg!(feature = "alsa"));
    }

    #[test]
    fn routes_to_and_from_lines_compile_against_the_lines() {
        let text = format!(
            "[system]\nboard = 'rpi4'\n{LINE}\
             [[route]]\nname = 'out'\nfrom = 'line:desk'\ntargets = [{{ uri = 'sip:a@pbx' }}]\n\
             [[route]]\nname = 'in'\nfrom = 'lan'\ntargets = [{{ line = 'desk' }}]\n"
        );
        let c = compile_toml_with(&text, &with_alsa(None)).expect("compiles");
        let inbound = c.router.routes().nth(1).expect("in");
        assert_eq!(inbound.targets[0].line.as_deref(), Some("desk"));
        let e = compile_toml_with(
            &text.replace("line = 'desk'", "line = 'hall'"),
            &with_alsa(None),
        )
        .err()
        .expect("refused");
        assert!(
            e.starts_with("route[1].targets[0].line: no [[line]] is named 'hall'"),
            "{e}"
        );
    }

    #[test]
    fn enabled_accounts_get_a_registration_plan() {
        let c = compile_toml(
            "[[account]]\nname='a'\nregistrar='sip:a.example.com'\nusername='u'\n\
             [[account]]\nname='b'\nenabled=false\nregistrar='sip:b.example.com'\nusername='u'\n",
        )
        .expect("compiles");
        assert_eq!(c.registrations.len(), 1);
        assert_eq!(c.registrations[0].0, 0);
    }
}
