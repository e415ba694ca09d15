//! An `[[account]]` as the SIP stack takes it: the configuration's text
//! read into SIP URIs and `RegistrationParams`. The configuration layer
//! knows no SIP, so the URI checks live here and name the field they
//! refuse, like every other configuration error.

use std::time::Duration;

use crate::config::{AccountConfig, ConfigError, TransportName};
use crate::sip::message::{Host, SipUri, Uri};
use crate::sip::registration::RegistrationParams;
use crate::sip::transport::Transport;

/// A registration to start: what the client needs, and where its first
/// hop is (the outbound proxy, else the registrar) for DNS.
#[derive(Clone, Debug)]
pub struct RegistrationPlan {
    pub params: RegistrationParams,
    pub next_hop: SipUri,
}

/// Reads account `index` for the REGISTER client; the error names the
/// field (`account[N].registrar`, ...).
pub fn registration_plan(
    index: usize,
    account: &AccountConfig,
    user_agent: &str,
) -> Result<RegistrationPlan, ConfigError> {
    let field = |f: &str| format!("account[{index}].{f}");
    let transport = match account.transport {
        TransportName::Udp => Transport::Udp,
        TransportName::Tcp => Transport::Tcp,
        TransportName::Tls => Transport::Tls,
    };
    let registrar = match Uri::parse(&account.registrar) {
        Ok(Uri::Sip(u)) if u.secure && transport != Transport::Tls => {
            return Err(ConfigError::invalid(
                field("registrar"),
                "a sips: registrar is reached over TLS: set transport = \"tls\" (or use sip:)",
            ))
        }
        Ok(Uri::Sip(u)) if u.user.is_none() => {
            if let Some(t) = u.params.value("transport") {
                let wanted = transport.via_token().to_ascii_lowercase();
                if !t.eq_ignore_ascii_case(&wanted) {
                    return Err(ConfigError::invalid(
                        field("registrar"),
                        format!("transport={t} in the URI contradicts transport = \"{wanted}\""),
                    ));
                }
            }
            u
        }
        Ok(Uri::Sip(_)) => {
            return Err(ConfigError::invalid(
                field("registrar"),
                "must be the registrar's address without a user part, e.g. \"sip:example.com\"",
            ))
        }
        Ok(_) => {
            return Err(ConfigError::invalid(
                field("registrar"),
                "must be a sip: or sips: URI",
            ))
        }
        Err(e) => return Err(ConfigError::invalid(field("registrar"), e)),
    };
    let outbound_proxy = match &account.outbound_proxy {
        None => None,
        Some(p) => match Uri::parse(p) {
            Ok(Uri::Sip(u)) => Some(u),
            _ => {
                return Err(ConfigError::invalid(
                    field("outbound_proxy"),
                    format!("'{p}' is not a sip: URI"),
                ))
            }
        },
    };
    if let Some(d) = &account.domain {
        if Host::parse(d).is_err() {
            return Err(ConfigError::invalid(
                field("domain"),
                format!("'{d}' is not a host name or address"),
            ));
        }
    }
    let domain = account
        .domain
        .clone()
        .unwrap_or_else(|| registrar.host.to_string());
    let aor = match Uri::parse(&format!("sip:{}@{}", account.username, domain)) {
        Ok(Uri::Sip(u)) => u,
        _ => {
            return Err(ConfigError::invalid(
                field("username"),
                format!(
                    "sip:{}@{domain} is not a SIP address of record",
                    account.username
                ),
            ))
        }
    };
    let next_hop = outbound_proxy.clone().unwrap_or_else(|| registrar.clone());
    let params = RegistrationParams {
        account: account.name.clone(),
        registrar: SipUri {
            params: Default::default(),
            ..registrar
        },
        aor,
        auth_username: account
            .auth_username
            .clone()
            .unwrap_or_else(|| account.username.clone()),
        password: account.password.clone(),
        expires: account.expires_s,
        transport,
        outbound_proxy,
        public_address: account.public_address,
        keepalive: (account.keepalive_interval_s > 0)
            .then(|| Duration::from_secs(account.keepalive_interval_s)),
        retry_base: Duration::from_secs(account.retry_base_s),
        retry_max: Duration::from_secs(account.retry_max_s),
        user_agent: user_agent.to_string(),
        allow: super::ALLOW.into(),
    };
    Ok(RegistrationPlan { params, next_hop })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn plan(extra: &str) -> Result<RegistrationPlan, ConfigError> {
        let cfg = Config::from_toml(&format!(
            "[[account]]\nname='sw'\nusername='alice'\npassword='x'\n{extra}"
        ))
        .expect("data checks pass");
        registration_plan(0, &cfg.accounts[0], "pbxgate-test")
    }

    #[test]
    fn an_account_becomes_registration_parameters() {
        let p = plan("registrar='sip:example.sip.signalwire.com;transport=udp'\n").expect("plan");
        assert_eq!(
            p.params.registrar.to_string(),
            "sip:example.sip.signalwire.com"
        );
        assert_eq!(
            p.params.aor.to_string(),
            "sip:alice@example.sip.signalwire.com"
        );
        assert_eq!(
            p.next_hop.to_string(),
            "sip:example.sip.signalwire.com;transport=udp"
        );
        let p = plan(
            "registrar='sip:example.com'\ndomain='tenant.example.com'\n\
             outbound_proxy='sip:proxy.example.com'\n",
        )
        .expect("plan");
        assert_eq!(p.params.aor.to_string(), "sip:alice@tenant.example.com");
        assert_eq!(p.next_hop.to_string(), "sip:proxy.example.com");
    }

    #[test]
    fn uri_errors_name_the_field() {
        for (extra, field, words) in [
            (
                "registrar='sip:bob@example.com'\n",
                "account[0].registrar",
                "without a user part",
            ),
            (
                "registrar='sip:example.com;transport=tcp'\n",
                "account[0].registrar",
                "contradicts",
            ),
            (
                "registrar='sips:example.com'\n",
                "account[0].registrar",
                "TLS",
            ),
            (
                "registrar='tel:+15551234'\n",
                "account[0].registrar",
                "sip: or sips:",
            ),
            ("registrar='sip:'\n", "account[0].registrar", ""),
            (
                "registrar='sip:example.com'\noutbound_proxy='http://x'\n",
                "account[0].outbound_proxy",
                "not a sip: URI",
            ),
            (
                "registrar='sip:example.com'\ndomain='bad domain'\n",
                "account[0].domain",
                "not a host name",
            ),
        ] {
            let e = plan(extra).expect_err(extra).to_string();
            assert!(e.contains(field) && e.contains(words), "{extra}: {e}");
        }
    }
}
