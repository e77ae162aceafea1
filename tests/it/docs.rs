//! The documentation keeps up with the code: every diagnostic code the validator can emit is in
//! README.md's table.

use std::collections::BTreeSet;

use crate::util::root;

#[test]
fn every_diagnostic_code_is_documented() {
    let re = regex::Regex::new(r#"(?:error|warning)\(\s*"([a-z]+(?:-[a-z]+)*)""#).expect("pattern");
    let mut codes = BTreeSet::new();
    let mut stack = vec![root().join("src/mapping")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src/mapping") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                codes.extend(re.captures_iter(&text).map(|c| c[1].to_string()));
            }
        }
    }
    assert!(codes.len() > 15, "the scan found too few codes: {codes:?}");
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !readme.contains(&format!("| `{c}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "diagnostic codes missing from README.md's table: {missing:?}"
    );
}
