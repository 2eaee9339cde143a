//! `contract::names::Version::parse`: nothing panics; what parses is exactly the input (never trimmed), is
//! a tag or a digest, and parses again to the same version.

#![no_main]

use contract::names::Version;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(version) = Version::parse(text) else { return };
    assert_eq!(version.as_str(), text, "checked as sent");
    assert!(!text.contains(|c: char| c.is_whitespace() || c.is_control()), "{text:?}");
    assert!(version.tag().is_some() != version.digest().is_some(), "a tag or a digest: {text:?}");
    assert!(text.len() <= 128 || version.digest().is_some(), "{text:?}");
    assert_eq!(Version::parse(version.as_str()), Ok(version.clone()));
});
