//! What valid routes may still get wrong: said by `--check-config` and
//! logged at start, never refused (the operator may be adding routes step
//! by step).

use super::{Origin, Router};
use crate::config::Side;

/// One line per problem, naming the field; empty when there is nothing to
/// say.
pub fn route_warnings(router: &Router) -> Vec<String> {
    let mut out = Vec::new();
    let uncovered = |origin: Origin<'_>| -> String {
        router
            .emergency_numbers()
            .iter()
            .filter(|n| !router.carries_emergency(n, origin))
            .collect::<Vec<&str>>()
            .join(", ")
    };
    let lan = uncovered(Origin::Side(Side::Lan));
    if !lan.is_empty() {
        out.push(format!(
            "emergency.numbers: no route carries a call from the LAN to {lan}; set \
             emergency.route or add a [[route]] with from = \"lan\" that matches it"
        ));
    }
    for name in router.line_names() {
        let missing = uncovered(Origin::Line(name));
        if !missing.is_empty() {
            out.push(format!(
                "emergency.numbers: no route carries a call from line '{name}' to {missing}; \
                 set emergency.route or add a [[route]] with from = \"line\" (or \
                 \"line:{name}\") that matches it"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn warned(toml: &str) -> Vec<String> {
        let cfg = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let router = Router::compile(&cfg.routes, &cfg.accounts, &cfg.lines, &cfg.emergency)
            .unwrap_or_else(|e| panic!("{e}\n{toml}"));
        route_warnings(&router)
    }

    const T: &str = "targets = [{ uri = 'sip:trunk@198.51.100.1' }]";

    #[test]
    fn numbers_without_a_lan_route_are_warned_about() {
        // (description, TOML, numbers named in the warning; empty = no warning)
        let rows: Vec<(&str, String, &[&str])> = vec![
            (
                "defaults, no route at all",
                String::new(),
                &["911", "112", "999", "000", "110"],
            ),
            (
                "only a WAN route",
                format!("[[route]]\nname = 'in'\n{T}\n"),
                &["911", "112", "999", "000", "110"],
            ),
            ("no numbers", "[emergency]\nnumbers = []\n".into(), &[]),
            (
                "a LAN catch-all carries them",
                format!("[[route]]\nname = 'out'\nfrom = 'lan'\n{T}\n"),
                &[],
            ),
            (
                "a LAN route by caller may carry them",
                format!(
                    "[[route]]\nname = 'out'\nfrom = 'lan'\nmatch = [{{ caller = true, prefix = '2' }}]\n{T}\n"
                ),
                &[],
            ),
            (
                "a LAN route for +1 numbers carries none",
                format!(
                    "[emergency]\nnumbers = ['911', '112']\n[[route]]\nname = 'out'\nfrom = 'lan'\n\
                     match = [{{ dialled = true, prefix = '+1' }}]\n{T}\n"
                ),
                &["911", "112"],
            ),
            (
                "a LAN route for 911 only",
                format!(
                    "[emergency]\nnumbers = ['911', '112']\n[[route]]\nname = 'out'\nfrom = 'lan'\n\
                     match = [{{ dialled = true, equals = '911' }}]\n{T}\n"
                ),
                &["112"],
            ),
            (
                "the emergency route carries every number",
                format!(
                    "[emergency]\nroute = 'psap'\n[[route]]\nname = 'psap'\nfrom = 'lan'\n\
                     match = [{{ header = 'X-Never', present = true }}]\n{T}\n"
                ),
                &[],
            ),
        ];
        for (what, toml, named) in rows {
            let w = warned(&toml);
            if named.is_empty() {
                assert!(w.is_empty(), "{what}: {w:?}");
                continue;
            }
            assert_eq!(w.len(), 1, "{what}: {w:?}");
            assert!(w[0].starts_with("emergency.numbers: "), "{what}: {}", w[0]);
            assert!(
                w[0].contains(&format!("to {}; ", named.join(", "))),
                "{what}: {}",
                w[0]
            );
        }
    }

    #[test]
    fn lines_without_a_route_for_emergency_numbers_are_warned_about_by_name() {
        let lines = "[emergency]\nnumbers = ['911', '112']\n\
                     [[line]]\nname = 'desk'\nextension = '201'\n\
                     [[line]]\nname = 'shop'\nextension = '202'\n";
        let lan = format!("[[route]]\nname = 'out'\nfrom = 'lan'\n{T}\n");
        // A LAN route does not carry a line's calls.
        let w = warned(&format!("{lines}{lan}"));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("from line 'desk' to 911, 112;"), "{}", w[0]);
        assert!(w[1].contains("from line 'shop' to 911, 112;"), "{}", w[1]);
        assert!(w[1].contains("\"line:shop\""), "{}", w[1]);
        // One line's own route for 911: that line still lacks 112, the other both.
        let w = warned(&format!(
            "{lines}{lan}[[route]]\nname = 'desk911'\nfrom = 'line:desk'\n\
             match = [{{ dialled = true, equals = '911' }}]\n{T}\n"
        ));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("from line 'desk' to 112;"), "{}", w[0]);
        assert!(w[1].contains("from line 'shop' to 911, 112;"), "{}", w[1]);
        // A route for every line, or the emergency route: nothing to say.
        assert!(warned(&format!(
            "{lines}{lan}[[route]]\nname = 'lines'\nfrom = 'line'\n{T}\n"
        ))
        .is_empty());
        let with_route = lines.replace("[emergency]\n", "[emergency]\nroute = 'out'\n");
        assert!(warned(&format!("{with_route}{lan}")).is_empty());
    }
}
