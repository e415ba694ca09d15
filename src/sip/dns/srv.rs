//! RFC 2782 target selection: lowest priority first, and within one
//! priority a random order in which each record's chance of coming next is
//! proportional to its weight.

/// One SRV record's data, as the ordering needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// Puts `records` in the order a client tries them.
///
/// RFC 2782 draws a number in `[0, sum]` *inclusive* and places weight-0
/// records first so that they get "a very small chance". With no weight-0
/// record that over-weights the first record by one part in `sum + 1`
/// (weights 3:1 give 80:20, not 75:25). Here the number is drawn from
/// `[0, sum)`, so shares are exactly proportional to weight, and weight-0
/// records come after every weighted record of their priority, in random
/// order among themselves. Go's `net` package does the same.
pub(crate) fn order(mut records: Vec<Srv>, rng: &mut fastrand::Rng) -> Vec<Srv> {
    // Stable, so equal-priority records keep the server's order before the
    // shuffle (which does not depend on it anyway).
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let (group, tail) = rest.split_at(same);
        let mut group = group.to_vec();
        while !group.is_empty() {
            let pick = pick_weighted(&group, rng);
            out.push(group.remove(pick));
        }
        rest = tail;
    }
    out
}

/// Index of the next record of one priority group (`group` is not empty).
fn pick_weighted(group: &[Srv], rng: &mut fastrand::Rng) -> usize {
    let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
    if total == 0 {
        return rng.usize(..group.len());
    }
    let mut draw = rng.u32(..total);
    for (i, r) in group.iter().enumerate() {
        let w = u32::from(r.weight);
        if draw < w {
            return i;
        }
        draw -= w;
    }
    // Unreachable: draw < total = sum of the weights.
    group.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port: 5060,
            target: target.into(),
        }
    }

    fn targets(v: &[Srv]) -> Vec<&str> {
        v.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn lower_priority_always_comes_first() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..100 {
            let out = order(
                vec![
                    srv(20, 100, "c"),
                    srv(10, 1, "a"),
                    srv(30, 0, "d"),
                    srv(10, 1, "b"),
                ],
                &mut rng,
            );
            let t = targets(&out);
            assert_eq!(t.len(), 4);
            assert!(t[..2].contains(&"a") && t[..2].contains(&"b"), "{t:?}");
            assert_eq!(&t[2..], ["c", "d"]);
        }
    }

    #[test]
    fn weights_three_to_one_split_about_75_25() {
        let mut rng = fastrand::Rng::with_seed(42);
        let draws = 10_000;
        let mut heavy_first = 0;
        for _ in 0..draws {
            let out = order(vec![srv(10, 1, "light"), srv(10, 3, "heavy")], &mut rng);
            assert_eq!(out.len(), 2);
            if out.first().map(|r| r.target.as_str()) == Some("heavy") {
                heavy_first += 1;
            }
        }
        let share = f64::from(heavy_first) / f64::from(draws);
        assert!((0.73..0.77).contains(&share), "heavy first in {share}");
    }

    #[test]
    fn weight_zero_goes_after_weighted_records() {
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..200 {
            let out = order(
                vec![srv(1, 0, "z1"), srv(1, 5, "w"), srv(1, 0, "z2")],
                &mut rng,
            );
            assert_eq!(out.first().map(|r| r.target.as_str()), Some("w"));
        }
        // All weight 0: every order occurs.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let out = order(vec![srv(1, 0, "x"), srv(1, 0, "y")], &mut rng);
            seen.insert(targets(&out).join(","));
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn same_seed_same_order() {
        let recs = vec![srv(1, 10, "a"), srv(1, 20, "b"), srv(1, 30, "c")];
        let a = order(recs.clone(), &mut fastrand::Rng::with_seed(3));
        let b = order(recs, &mut fastrand::Rng::with_seed(3));
        assert_eq!(a, b);
    }
}
