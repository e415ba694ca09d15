//! A valid configuration with every field set to something other than its
//! default, for tests that must see every field: the field-effect table,
//! and saving each section into the commented default file.
//!
//! Every struct whose fields have rows of their own in `FIELD_EFFECTS` is
//! written out in full (no `..Default::default()`), so a field added to
//! the configuration does not compile here until it is given a value, and
//! then those tests see it. (Match items and targets sit under the one
//! `route` row.)

use std::net::SocketAddr;

use super::account::AccountConfig;
use super::calls::{CallsConfig, SdpMode};
use super::emergency::EmergencyConfig;
use super::events::{EventsConfig, WebhookConfig, WebhookFormat};
use super::history::HistoryConfig;
use super::inbound_auth::{InboundAuthConfig, InboundUser};
use super::line::LineConfig;
use super::media::{DtmfMode, MediaConfig, SourceMode};
use super::mqtt::MqttConfig;
use super::network::{NetworkConfig, NetworkMode};
use super::route::{
    HeaderActionConfig, HeaderActionKind, MatchConfig, RouteConfig, RouteFrom, TargetConfig,
};
use super::schema::{
    AdmitMode, Config, DenyAction, DnsConfig, ListenerConfig, LogConfig, SipConfig,
};
use super::sides::{Side, TransportName};
use super::srtp::SrtpMode;
use super::system::SystemConfig;
use super::tls::TlsConfig;
use super::update::UpdateConfig;
use super::web::WebConfig;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a socket address")
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn every_field_set() -> Config {
    Config {
        sip: SipConfig {
            user_agent: "edge-7".into(),
            t1_ms: 400,
            t2_ms: 3000,
            t4_ms: 4000,
        },
        listeners: vec![
            ListenerConfig {
                name: "wan".into(),
                side: Side::Wan,
                bind: addr("127.0.0.1:5062"),
                transports: vec![TransportName::Udp, TransportName::Tls],
                tcp_idle_timeout_s: 120,
                allow: Some(strings(&["203.0.113.0/24"])),
                on_deny: Some(DenyAction::Reject),
                admit: AdmitMode::Either,
                rate_per_s: 100,
                burst: 150,
                rate_per_s_listed: 1500,
                burst_listed: 3000,
                public_address: Some("198.51.100.20".parse().expect("an address")),
                tls_bind: Some(addr("127.0.0.1:5071")),
                srtp: SrtpMode::Offer,
            },
            ListenerConfig {
                name: "lan".into(),
                side: Side::Lan,
                bind: addr("127.0.0.1:5082"),
                transports: vec![TransportName::Tcp],
                tcp_idle_timeout_s: 60,
                allow: Some(strings(&["192.168.10.0/24"])),
                on_deny: Some(DenyAction::Drop),
                admit: AdmitMode::Allowlist,
                rate_per_s: 0,
                burst: 0,
                rate_per_s_listed: 0,
                burst_listed: 0,
                public_address: None,
                tls_bind: None,
                srtp: SrtpMode::Off,
            },
        ],
        accounts: vec![AccountConfig {
            name: "signalwire".into(),
            enabled: false,
            registrar: "sip:example.sip.signalwire.com".into(),
            username: "pbx".into(),
            auth_username: Some("pbx-auth".into()),
            password: "secret".into(),
            domain: Some("example.com".into()),
            expires_s: 600,
            transport: TransportName::Tls,
            outbound_proxy: Some("sip:proxy.example.com".into()),
            public_address: Some(addr("203.0.113.7:5060")),
            listener: "wan".into(),
            keepalive_interval_s: 15,
            retry_base_s: 5,
            retry_max_s: 120,
            srtp: SrtpMode::Require,
        }],
        inbound_auth: InboundAuthConfig {
            realm: "edge".into(),
            status: 407,
            algorithms: strings(&["SHA-256", "MD5"]),
            methods: strings(&["INVITE", "BYE"]),
            max_failures: 3,
            failure_window_s: 30,
            block_s: 600,
            nonce_lifetime_s: 120,
            users: vec![InboundUser {
                username: "retreaver".into(),
                password: "s3cret".into(),
            }],
        },
        calls: CallsConfig {
            max_concurrent: 50,
            retry_after_s: 9,
            failover_timeout_ms: 2500,
            max_redirects: 1,
            sdp: SdpMode::Passthrough,
            history: Some(20),
        },
        media: MediaConfig {
            port_min: 30000,
            port_max: 30999,
            timeout_s: 30,
            source: SourceMode::Strict,
            learn_packets: 5,
            learn_window_ms: 1000,
            relearn_after_ms: 8000,
            allow: strings(&["198.51.100.0/24"]),
            any_source: Some(false),
            threads: 2,
        },
        routes: vec![
            RouteConfig {
                name: "publisher-5678".into(),
                from: RouteFrom::WAN,
                matches: vec![
                    MatchConfig {
                        header: Some("X-PH-RetreaverAFID".into()),
                        equals: Some("5678".into()),
                        ..MatchConfig::default()
                    },
                    MatchConfig {
                        dialled: Some(true),
                        prefix: Some("+1888".into()),
                        ..MatchConfig::default()
                    },
                    MatchConfig {
                        caller: Some(true),
                        regex: Some("^\\+1555".into()),
                        ..MatchConfig::default()
                    },
                    MatchConfig {
                        header: Some("X-Campaign-ID".into()),
                        present: Some(true),
                        ..MatchConfig::default()
                    },
                    MatchConfig {
                        header: Some("X-Test".into()),
                        absent: Some(true),
                        ..MatchConfig::default()
                    },
                ],
                targets: vec![
                    TargetConfig {
                        uri: "sip:queue1@192.168.10.5".into(),
                        transport: Some(TransportName::Tcp),
                        username: Some("u".into()),
                        password: Some("p".into()),
                        line: None,
                        account: None,
                        headers: strings(&["X-Campaign-ID: 1234"]),
                        dtmf: DtmfMode::Inband,
                        srtp: SrtpMode::Off,
                    },
                    TargetConfig {
                        uri: "sip:+18885551234@sip.example.com".into(),
                        transport: None,
                        username: None,
                        password: None,
                        line: None,
                        account: Some("signalwire".into()),
                        headers: Vec::new(),
                        dtmf: DtmfMode::Auto,
                        srtp: SrtpMode::Offer,
                    },
                ],
                headers: vec![
                    HeaderActionConfig {
                        action: HeaderActionKind::Rename,
                        name: "X-Publisher-ID".into(),
                        from: Some("X-PH-RetreaverAFID".into()),
                        value: None,
                    },
                    HeaderActionConfig {
                        action: HeaderActionKind::Set,
                        name: "X-Queue".into(),
                        from: None,
                        value: Some("sales".into()),
                    },
                ],
                caller_dtmf: DtmfMode::Rfc4733,
                hook: Some("https://hooks.example.com/route".into()),
                hook_timeout_ms: 2000,
                hook_secret: Some("hooksec".into()),
                hook_ca_file: Some("/etc/pbxgate/hooks-ca.pem".into()),
                hook_allow_http: true,
            },
            RouteConfig {
                name: "psap".into(),
                from: RouteFrom::LAN,
                matches: Vec::new(),
                targets: vec![TargetConfig {
                    uri: "sip:911@sip.example.com".into(),
                    ..TargetConfig::default()
                }],
                headers: Vec::new(),
                caller_dtmf: DtmfMode::Auto,
                hook: None,
                hook_timeout_ms: super::route::DEFAULT_HOOK_TIMEOUT_MS,
                hook_secret: None,
                hook_ca_file: None,
                hook_allow_http: false,
            },
            RouteConfig {
                name: "to-desk".into(),
                from: RouteFrom::WAN,
                matches: vec![MatchConfig {
                    dialled: Some(true),
                    equals: Some("201".into()),
                    ..MatchConfig::default()
                }],
                targets: vec![TargetConfig {
                    line: Some("desk".into()),
                    ..TargetConfig::default()
                }],
                headers: Vec::new(),
                caller_dtmf: DtmfMode::Auto,
                hook: None,
                hook_timeout_ms: super::route::DEFAULT_HOOK_TIMEOUT_MS,
                hook_secret: None,
                hook_ca_file: None,
                hook_allow_http: false,
            },
            RouteConfig {
                name: "desk-out".into(),
                from: RouteFrom::Line("desk".into()),
                matches: Vec::new(),
                targets: vec![TargetConfig {
                    uri: "sip:+18005550100@sip.example.com".into(),
                    account: Some("signalwire".into()),
                    ..TargetConfig::default()
                }],
                headers: Vec::new(),
                caller_dtmf: DtmfMode::Auto,
                hook: None,
                hook_timeout_ms: super::route::DEFAULT_HOOK_TIMEOUT_MS,
                hook_secret: None,
                hook_ca_file: None,
                hook_allow_http: false,
            },
        ],
        emergency: EmergencyConfig {
            numbers: strings(&["911", "933"]),
            route: Some("psap".into()),
        },
        dns: DnsConfig {
            nameservers: vec![addr("192.168.1.1:53")],
        },
        log: LogConfig {
            level: "debug".into(),
            counters_interval_s: 60,
        },
        history: HistoryConfig {
            max_calls: 1000,
            max_age_days: 30,
        },
        web: WebConfig {
            enabled: true,
            bind: addr("127.0.0.1:9443"),
            allow: Some(strings(&["192.168.10.0/24"])),
            cert_file: Some("/data/cert.pem".into()),
            key_file: Some("/data/key.pem".into()),
            session_idle_min: 10,
            login_failures: 3,
            login_window_min: 5,
            metrics_allow: strings(&["192.168.10.50"]),
        },
        tls: TlsConfig {
            cert_file: Some("/data/sip-cert.pem".into()),
            key_file: Some("/data/sip-key.pem".into()),
            ca_file: Some("/data/trunk-ca.pem".into()),
            client_cert_file: Some("/data/client.pem".into()),
            client_key_file: Some("/data/client-key.pem".into()),
            handshake_timeout_ms: 3000,
            max_handshakes_per_source: 2,
            max_handshakes: 32,
        },
        webhooks: vec![WebhookConfig {
            name: "crm".into(),
            url: "https://crm.example.com/pbxgate".into(),
            format: WebhookFormat::Json,
            events: strings(&["newCall", "hangup"]),
            secret: Some("whsec".into()),
            ca_file: Some("/data/crm-ca.pem".into()),
            pin_sha256: Some("ab".repeat(32)),
            allow_http: false,
            timeout_ms: 3000,
        }],
        events: EventsConfig {
            max_events: 5000,
            max_mib: 8,
            headers: strings(&["X-Campaign-ID"]),
        },
        mqtt: Some(MqttConfig {
            url: "mqtts://broker.example.com:8883".into(),
            username: Some("box-17".into()),
            password: Some("mqtt-pw".into()),
            box_id: Some("shop-17".into()),
            ca_file: Some("/data/broker-ca.pem".into()),
            keepalive_s: 45,
        }),
        system: SystemConfig {
            board: Some("rpi4".into()),
        },
        lines: vec![LineConfig {
            name: "desk".into(),
            extension: "201".into(),
            capture: Some("plughw:CARD=Phone,DEV=0".into()),
            playback: Some("plughw:CARD=Phone,DEV=1".into()),
            serial_port: Some("/dev/ttyUSB0".into()),
            baud: Some(57_600),
            dtmf: DtmfMode::Rfc4733,
            ring_cadence: "400/200/400/2000".into(),
            digit_timeout_ms: 3000,
        }],
        update: UpdateConfig {
            health_timeout_s: 300,
            boot_attempts: 2,
        },
        network: NetworkConfig {
            mode: NetworkMode::Static,
            interface: Some("eth1".into()),
            address: Some("192.168.7.20/24".into()),
            gateway: Some("192.168.7.1".into()),
            dns: strings(&["192.168.7.1", "2001:db8::53"]),
        },
    }
}

#[test]
fn the_sample_is_valid_and_differs_from_the_default_in_every_section() {
    let s = every_field_set();
    s.validate().expect("valid");
    let d = Config::default();
    assert_ne!(s.sip, d.sip);
    assert_ne!(s.listeners, d.listeners);
    assert_ne!(s.accounts, d.accounts);
    assert_ne!(s.inbound_auth, d.inbound_auth);
    assert_ne!(s.calls, d.calls);
    assert_ne!(s.media, d.media);
    assert_ne!(s.routes, d.routes);
    assert_ne!(s.emergency, d.emergency);
    assert_ne!(s.dns, d.dns);
    assert_ne!(s.log, d.log);
    assert_ne!(s.history, d.history);
    assert_ne!(s.web, d.web);
    assert_ne!(s.webhooks, d.webhooks);
    assert_ne!(s.events, d.events);
    assert_ne!(s.mqtt, d.mqtt);
    assert_ne!(s.system, d.system);
    assert_ne!(s.lines, d.lines);
    assert_ne!(s.update, d.update);
    assert_ne!(s.network, d.network);
}
