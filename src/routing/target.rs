//! Where a routed call is sent. The URI is only the destination: its user
//! part is the extension or queue to reach, never a login. TargetCredentials are
//! configured apart and used only when the far end challenges.

use std::fmt;

use crate::config::{
    AccountConfig, ConfigError, DtmfMode, LineConfig, SrtpMode, TargetConfig, TransportName,
    SDES_NEEDS_TLS,
};
use crate::sip::message::{HeaderName, SipUri, Uri};

use super::header_text::header_line;

#[derive(Clone, PartialEq, Eq)]
pub struct TargetCredentials {
    pub username: String,
    pub password: String,
}

// Keeps passwords out of logs and panic messages.
impl fmt::Debug for TargetCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetCredentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// A SIP destination, or a local line. For a line, `line` is its name and
/// `uri` is `sip:EXTENSION@NAME.line.invalid`: the line's number at a host
/// under `.invalid`, which RFC 2606 §2 reserves as never resolving, so a
/// line target that reached the SIP side by mistake could not leave the
/// box; logs and call records still show a readable destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub uri: SipUri,
    /// Some: the call rings this `[[line]]`, and nothing is sent over SIP.
    pub line: Option<String>,
    pub transport: TransportName,
    /// Answers a 401/407 from this target; None = never authenticate.
    pub credentials: Option<TargetCredentials>,
    /// Sent through this account (its credentials and outbound proxy).
    pub account: Option<String>,
    /// Added for this target only, after the route's header plan.
    pub extra_headers: Vec<(HeaderName, String)>,
    pub dtmf: DtmfMode,
    /// SRTP toward the target: its own setting, else its account's.
    pub srtp: SrtpMode,
}

impl Target {
    /// `field` is the config path of this target, e.g. `route[0].targets[1]`.
    pub fn compile(
        cfg: &TargetConfig,
        field: &str,
        accounts: &[AccountConfig],
        lines: &[LineConfig],
    ) -> Result<Target, ConfigError> {
        let f = |k: &str| format!("{field}.{k}");
        if let Some(name) = &cfg.line {
            return line_target(cfg, field, name, lines);
        }
        if cfg.uri.trim().is_empty() {
            return Err(ConfigError::invalid(
                f("uri"),
                "a target needs a uri (e.g. uri = \"sip:queue@pbx.example.com\") or a line \
                 (line = \"NAME\")",
            ));
        }
        let uri = target_uri(&f("uri"), &cfg.uri)?;
        let account = match &cfg.account {
            None => None,
            Some(name) => match accounts.iter().find(|a| &a.name == name) {
                Some(a) => Some(a),
                None => {
                    return Err(ConfigError::invalid(
                        f("account"),
                        format!("no [[account]] is named '{name}'"),
                    ))
                }
            },
        };
        let transport = transport(&f("transport"), cfg.transport, &uri, account)?;
        let credentials =
            match (&cfg.username, &cfg.password) {
                (None, None) => None,
                _ if account.is_some() => {
                    return Err(ConfigError::invalid(
                        f("username"),
                        "the account's credentials are used for this target; remove username \
                     and password, or the account",
                    ))
                }
                (Some(_), None) => return Err(ConfigError::invalid(
                    f("password"),
                    "a username needs a password; add password = \"...\" or remove the username",
                )),
                (None, Some(_)) => return Err(ConfigError::invalid(
                    f("username"),
                    "a password needs a username; add username = \"...\" or remove the password",
                )),
                (Some(u), Some(p)) => Some(credentials(field, u, p)?),
            };
        let extra_headers = cfg
            .headers
            .iter()
            .enumerate()
            .map(|(i, line)| header_line(&format!("{field}.headers[{i}]"), line))
            .collect::<Result<_, _>>()?;
        let srtp = match (cfg.srtp, account) {
            (SrtpMode::Off, Some(a)) => a.srtp,
            (s, _) => s,
        };
        if srtp != SrtpMode::Off && transport != TransportName::Tls {
            return Err(ConfigError::invalid(
                f("srtp"),
                format!(
                    "{SDES_NEEDS_TLS}: use transport = \"tls\", a sips: URI or ;transport=tls for srtp = \"{}\"",
                    srtp.name()
                ),
            ));
        }
        Ok(Target {
            uri,
            line: None,
            transport,
            credentials,
            account: cfg.account.clone(),
            extra_headers,
            dtmf: cfg.dtmf,
            srtp,
        })
    }
}

/// A `{ line = "NAME" }` target: the line must exist, and what only a SIP
/// destination has is refused rather than ignored.
fn line_target(
    cfg: &TargetConfig,
    field: &str,
    name: &str,
    lines: &[LineConfig],
) -> Result<Target, ConfigError> {
    let f = |k: &str| format!("{field}.{k}");
    let Some(line) = lines.iter().find(|l| l.name == name) else {
        return Err(ConfigError::invalid(
            f("line"),
            format!("no [[line]] is named '{name}'"),
        ));
    };
    let sip_only = [
        ("uri", !cfg.uri.is_empty()),
        ("account", cfg.account.is_some()),
        ("username", cfg.username.is_some()),
        ("password", cfg.password.is_some()),
        ("transport", cfg.transport.is_some()),
        ("srtp", cfg.srtp != SrtpMode::Off),
        ("headers", !cfg.headers.is_empty()),
        ("dtmf", cfg.dtmf != DtmfMode::Auto),
    ];
    if let Some((key, _)) = sip_only.iter().find(|(_, set)| *set) {
        let why = match *key {
            "dtmf" => "a line target takes the line's own dtmf; set it on the [[line]]".to_string(),
            _ => format!(
                "a line target is reached on the box, not over SIP: remove {key}, or remove \
                 line to call a SIP destination"
            ),
        };
        return Err(ConfigError::invalid(f(key), why));
    }
    let text = format!("sip:{}@{}.line.invalid", line.extension, line.name);
    let uri = target_uri(&f("line"), &text)?;
    Ok(Target {
        uri,
        line: Some(line.name.clone()),
        transport: TransportName::Udp,
        credentials: None,
        account: None,
        extra_headers: Vec::new(),
        dtmf: line.dtmf,
        srtp: SrtpMode::Off,
    })
}

fn target_uri(field: &str, text: &str) -> Result<SipUri, ConfigError> {
    let uri = match Uri::parse(text.trim()) {
        Ok(Uri::Sip(u)) => u,
        Ok(other) => {
            return Err(ConfigError::invalid(
                field,
                format!(
                    "'{text}' is a {}: URI; a target must be a sip: URI such as \
                     \"sip:queue@pbx.example.com\"",
                    other.scheme()
                ),
            ))
        }
        Err(e) => {
            return Err(ConfigError::invalid(
                field,
                format!("'{text}' is not a SIP URI: {e}"),
            ))
        }
    };
    if uri.password.is_some() {
        return Err(ConfigError::invalid(
            field,
            "the URI carries a password; put it in username/password instead",
        ));
    }
    if uri.headers.is_some() {
        return Err(ConfigError::invalid(
            field,
            "the URI carries ?headers; list them in the target's headers instead",
        ));
    }
    Ok(uri)
}

/// The transport: as configured, else the URI's `transport=`, else the
/// account's, else UDP. A configured value that the URI contradicts is a
/// mistake one of them hides, so it is refused.
fn transport(
    field: &str,
    configured: Option<TransportName>,
    uri: &SipUri,
    account: Option<&AccountConfig>,
) -> Result<TransportName, ConfigError> {
    let from_uri = match uri.params.value("transport") {
        // RFC 3261 §26.2: a sips: URI is reached over TLS.
        None if uri.secure => Some(TransportName::Tls),
        None => None,
        Some(t) if t.eq_ignore_ascii_case("udp") => Some(TransportName::Udp),
        Some(t) if t.eq_ignore_ascii_case("tcp") => Some(TransportName::Tcp),
        Some(t) if t.eq_ignore_ascii_case("tls") => Some(TransportName::Tls),
        Some(t) => {
            return Err(ConfigError::invalid(
                field,
                format!("the URI asks for transport={t}; only udp, tcp and tls are available"),
            ))
        }
    };
    match (configured, from_uri) {
        (Some(c), Some(u)) if c != u => Err(ConfigError::invalid(
            field,
            format!(
                "{} contradicts the URI's transport={}",
                name_of(c),
                name_of(u)
            ),
        )),
        (Some(c), _) => Ok(c),
        (None, Some(u)) => Ok(u),
        (None, None) => Ok(account.map_or(TransportName::Udp, |a| a.transport)),
    }
}

fn name_of(t: TransportName) -> &'static str {
    match t {
        TransportName::Udp => "udp",
        TransportName::Tcp => "tcp",
        TransportName::Tls => "tls",
    }
}

fn credentials(
    field: &str,
    username: &str,
    password: &str,
) -> Result<TargetCredentials, ConfigError> {
    // Both go into a quoted digest parameter or its hash input.
    if username.is_empty()
        || username.contains(['"', '\\'])
        || username.chars().any(char::is_control)
    {
        return Err(ConfigError::invalid(
            format!("{field}.username"),
            "must be non-empty, without quotes, backslashes or control characters",
        ));
    }
    if password.is_empty() || password.chars().any(char::is_control) {
        return Err(ConfigError::invalid(
            format!("{field}.password"),
            "must be non-empty and one line (no control characters)",
        ));
    }
    Ok(TargetCredentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod srtp_tests {
    use super::*;
    use crate::config::SrtpMode;

    fn target(uri: &str, srtp: SrtpMode, account: Option<&str>) -> TargetConfig {
        TargetConfig {
            uri: uri.into(),
            srtp,
            account: account.map(str::to_string),
            ..TargetConfig::default()
        }
    }

    fn account(transport: TransportName, srtp: SrtpMode) -> AccountConfig {
        let mut a: AccountConfig =
            toml::from_str("name='cloud'\nregistrar='sip:sip.example.com'\nusername='pbx'\n")
                .unwrap();
        a.transport = transport;
        a.srtp = srtp;
        a
    }

    #[test]
    fn srtp_needs_a_tls_target_and_defaults_to_the_account_s() {
        let f = "route[0].targets[0]";
        let e =
            Target::compile(&target("sip:q@pbx", SrtpMode::Offer, None), f, &[], &[]).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("route[0].targets[0].srtp"), "{e}");
        assert!(e.contains("SDES keys travel only over TLS"), "{e}");
        for uri in ["sips:q@trunk", "sip:q@trunk;transport=tls"] {
            let t = Target::compile(&target(uri, SrtpMode::Require, None), f, &[], &[]).expect(uri);
            assert_eq!(t.srtp, SrtpMode::Require);
        }
        let tls = [account(TransportName::Tls, SrtpMode::Require)];
        let t = Target::compile(
            &target("sip:q@trunk", SrtpMode::Off, Some("cloud")),
            f,
            &tls,
            &[],
        )
        .expect("the account's");
        assert_eq!(
            (t.transport, t.srtp),
            (TransportName::Tls, SrtpMode::Require)
        );
        let mut udp = target("sip:q@trunk", SrtpMode::Off, Some("cloud"));
        udp.transport = Some(TransportName::Udp);
        let e = Target::compile(&udp, f, &tls, &[]).unwrap_err().to_string();
        assert!(e.contains("targets[0].srtp"), "{e}");
    }
}
