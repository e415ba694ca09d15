//! sipp peers that more than one test file plays.

use super::sipp::Sipp;

/// A registrar on ip:35160 over UDP (registrar_md5_uas.xml) that
/// challenges alice/secret with MD5, grants `expires` seconds, wants
/// `min_refreshes` refreshes, and tells the gateway it sees it at `public`
/// (Via received= and rport=, as behind NAT).
pub fn md5_registrar(ip: &str, expires: u32, min_refreshes: u32, public: (&str, u16)) -> Sipp {
    Sipp::new("registrar_md5_uas.xml")
        .transport("u1")
        .on(ip, 35160)
        .key("auth_user", "alice")
        .key("auth_pass", "secret")
        .key("expires", expires)
        .key("min_refreshes", min_refreshes)
        .key("public_ip", public.0)
        .key("public_port", public.1)
}

/// A PBX whose media the test owns: `scenario` (media_pbx_uas.xml, or
/// media_pbx_uas_te.xml with telephone-event 96) on ip:35090, answering
/// with media at ip:`rtp_port` in payload type `pt`.
pub fn media_pbx(scenario: &str, ip: &str, rtp_port: u16, pt: u8) -> Sipp {
    Sipp::new(scenario)
        .on(ip, 35090)
        .key("rtp_port", rtp_port)
        .key("pt", pt)
}
