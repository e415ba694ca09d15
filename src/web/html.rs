//! HTML building: escaping (every value that is not the page's own text
//! goes through `esc`) and the layout every page shares.

use super::context::Identity;

/// Escapes text for an HTML element's content or a quoted attribute.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The navigation: (path, label). A page is listed only once it exists.
pub const NAV: &[(&str, &str)] = &[
    ("/", "Status"),
    ("/calls", "Calls"),
    ("/test-call", "Test a call"),
    ("/config/accounts", "Accounts"),
    ("/config/listeners", "Listeners"),
    ("/config/inbound-auth", "Inbound auth"),
    ("/config/routes", "Routes"),
    ("/config/lines", "Lines"),
    ("/config/media", "Media"),
    ("/config/emergency", "Emergency"),
    ("/config/calls", "Call limits"),
    ("/config/history", "History"),
    ("/config/web", "Web"),
    ("/config/events", "Events"),
    ("/config/sip", "SIP, DNS, log"),
    ("/config/updates", "Updates"),
    ("/config/network", "Network"),
    ("/system", "System"),
    ("/tokens", "API tokens"),
];

/// The hidden form field carrying the CSRF token, for a form that posts.
pub fn csrf_field(who: &Identity) -> String {
    match &who.csrf {
        Some(t) => format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(t)),
        None => String::new(),
    }
}

/// A whole page: head, navigation (`active` is the nav path to mark),
/// the user and a logout button, then `body` (already HTML).
pub fn page(title: &str, active: &str, who: Option<&Identity>, body: &str) -> String {
    let mut nav = String::new();
    if who.is_some() {
        for (path, label) in NAV {
            let class = if *path == active {
                r#" class="active""#
            } else {
                ""
            };
            nav.push_str(&format!(r#"<a href="{path}"{class}>{label}</a>"#));
        }
    }
    let user = match who {
        Some(w) => format!(
            r#"<form method="post" action="/logout" class="logout"><span id="user">{}</span>{}<button type="submit">Log out</button></form>"#,
            esc(&w.who),
            csrf_field(w)
        ),
        None => String::new(),
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · pbxgate</title><link rel="stylesheet" href="/assets/style.css"></head>
<body><header><span class="brand">pbxgate</span><nav>{nav}</nav>{user}</header>
<main><h1>{title}</h1>
{body}</main></body></html>
"#,
        title = esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_text() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}
