//! The email syntax check of the reference rule: a dot-atom or quoted local part, hostname
//! labels and a top-level label of 2 to 63 characters, or a bracketed IP literal.

use std::net::IpAddr;

/// True when `s` is a syntactically valid email address (no DNS or mailbox check).
pub fn is_email(s: &str) -> bool {
    let Some(at) = s.rfind('@') else {
        return false;
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    local_ok(local) && domain_ok(domain)
}

fn atom_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c) || !c.is_ascii()
}

fn local_ok(local: &str) -> bool {
    if local.is_empty() || local.len() > 64 {
        return false;
    }
    if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        let inner = &local[1..local.len() - 1];
        let mut escaped = false;
        for c in inner.chars() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => return false,
                (false, c) if c.is_control() => return false,
                _ => {}
            }
        }
        return !escaped;
    }
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(atom_char))
}

fn label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || !c.is_ascii() && c.is_alphanumeric()
}

fn domain_ok(domain: &str) -> bool {
    if let Some(lit) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        let lit = lit.strip_prefix("IPv6:").unwrap_or(lit);
        return lit.parse::<IpAddr>().is_ok();
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    let label_ok = |l: &str| {
        let n = l.chars().count();
        (1..=63).contains(&n)
            && l.chars().all(|c| label_char(c) || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let tld_len = tld.chars().count();
    rest.iter().all(|l| label_ok(l))
        && (2..=63).contains(&tld_len)
        && tld.chars().all(|c| label_char(c) || c == '-')
        && !tld.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::is_email;

    #[test]
    fn the_reference_cases() {
        for ok in [
            "a@b.co",
            "\"quoted\"@x.com",
            "a@[127.0.0.1]",
            "first.last+tag@sub.example.org",
            "a@b.xn--p1ai",
        ] {
            assert!(is_email(ok), "{ok} should pass");
        }
        for bad in [
            "a@b",
            "a@-b.com",
            "a@b.c",
            "ab.com",
            "",
            "@b.com",
            "a@",
            "a..b@c.com",
            "a@b..com",
            "a b@c.com",
            "example.lcom ",
        ] {
            assert!(!is_email(bad), "{bad} should fail");
        }
    }
}
