//! The email syntax rule the HubSpot stand-in applies (DEMO-2021.md §7.1, FIDELITY.md H-07).
//!
//! [H-07] HubSpot does not publish its rule. The sandbox trims, then applies the demo's
//! py3-validate-email syntax check, so every address the demo's guard accepts is accepted here.

/// True when `raw` (after trimming) passes the syntax check.
pub fn is_valid(raw: &str) -> bool {
    let s = raw.trim();
    let Some(at) = s.rfind('@') else {
        return false;
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    local_ok(local) && domain_ok(domain)
}

fn local_ok(local: &str) -> bool {
    if local.is_empty() {
        return false;
    }
    if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        let inner = &local[1..local.len() - 1];
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.next().is_none() => return false,
                '"' => return false,
                c if (c as u32) < 32 && c != '\t' => return false,
                _ => {}
            }
        }
        return true;
    }
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c))
    })
}

fn domain_ok(domain: &str) -> bool {
    if domain.starts_with('[') && domain.ends_with(']') && domain.len() > 2 {
        let lit = &domain[1..domain.len() - 1];
        let lit = lit.strip_prefix("IPv6:").unwrap_or(lit);
        return lit.parse::<std::net::IpAddr>().is_ok();
    }
    // The demo IDNA-encodes the domain; non-ASCII labels are accepted as such here.
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let (tld, rest) = labels.split_last().unwrap_or((&"", &[]));
    let label_ok = |l: &str| {
        let b: Vec<char> = l.chars().collect();
        !b.is_empty()
            && b.len() <= 63
            && b.iter().all(|c| c.is_alphanumeric() || *c == '-')
            && b[0] != '-'
            && b[b.len() - 1] != '-'
    };
    let tld_chars: Vec<char> = tld.chars().collect();
    rest.iter().all(|l| label_ok(l))
        && (2..=63).contains(&tld_chars.len())
        && tld_chars.iter().all(|c| c.is_alphanumeric() || *c == '-')
        && tld_chars.last() != Some(&'-')
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn demo_fixtures() {
        for ok in [
            "a@b.co",
            "\"quoted\"@x.com",
            "a@[127.0.0.1]",
            " a@x.com ",
            "x.y+z@sub.example.org",
        ] {
            assert!(is_valid(ok), "{ok} should pass");
        }
        for bad in [
            "a@b",
            "a@-b.com",
            "a@b.c",
            "ab.com",
            "example.lcom ",
            "",
            "@x.com",
            "a..b@x.com",
            "not-an-email",
        ] {
            assert!(!is_valid(bad), "{bad} should fail");
        }
    }
}
