//! "Did you mean" suggestions: the known names closest to a misspelt one.

/// Edit distance between `a` and `b` in characters, counting an insertion,
/// a deletion, a substitution or a swap of neighbours as one edit.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            d[i * w + j] = if i == 0 {
                j
            } else if j == 0 {
                i
            } else {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[(i - 1) * w + j - 1] + cost)
                    .min(d[(i - 1) * w + j] + 1)
                    .min(d[i * w + j - 1] + 1);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[(i - 2) * w + j - 2] + 1);
                }
                v
            };
        }
    }
    d[a.len() * w + b.len()]
}

/// Up to five of `candidates` close to `name`, nearest first: the "did you
/// mean" list of every error of this crate.
///
/// A candidate is close when its edit distance to `name` (insertions,
/// deletions, substitutions and swaps of neighbours, ignoring ASCII case)
/// is at most a third of `name`'s length (at least one), or when it
/// contains a `name` of three characters or more. Equally close ones come
/// in byte order of their names.
///
/// # Examples
///
/// ```
/// let vms = ["web", "db-primary", "db-replica"];
/// assert_eq!(qmp_vm::close_matches("wbe", vms), ["web"]);
/// assert_eq!(qmp_vm::close_matches("db-", vms), ["db-primary", "db-replica"]);
/// assert!(qmp_vm::close_matches("mail", vms).is_empty());
/// ```
pub fn close_matches<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let name = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    let mut found: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let lower = c.to_ascii_lowercase();
            let d = distance(&name, &lower);
            if d <= limit {
                Some((d, c))
            } else if name.len() >= 3 && lower.contains(&name) {
                Some((limit + 1, c))
            } else {
                None
            }
        })
        .collect();
    found.sort();
    found.dedup_by(|a, b| a.1 == b.1);
    found
        .into_iter()
        .take(5)
        .map(|(_, c)| c.to_owned())
        .collect()
}

/// ` (did you mean `a`, `b`?)`, or nothing when there is no suggestion.
pub(crate) fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        return String::new();
    }
    let list: Vec<String> = suggestions.iter().map(|s| format!("`{s}`")).collect();
    format!("; did you mean {}?", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, candidates: &[&str], expect: &[&str]) {
        assert_eq!(close_matches(name, candidates.iter().copied()), expect);
    }

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("query-status", "query-statsu"), 1);
        assert_eq!(distance("ctlr", "ctrl"), 1);
    }

    #[test]
    fn suggestions() {
        check(
            "query-statu",
            &["query-status", "query-stats", "stop"],
            &["query-stats", "query-status"],
        );
        check("ctlr", &["ctrl", "ctrl_r", "alt"], &["ctrl"]);
        check("pth", &["path", "property"], &["path"]);
        check("xyzzy", &["ctrl", "alt"], &[]);
        check("status", &["query-status", "stop"], &["query-status"]);
        assert_eq!(did_you_mean(&[]), "");
        assert_eq!(
            did_you_mean(&["a".into(), "b".into()]),
            "; did you mean `a`, `b`?"
        );
    }
}
