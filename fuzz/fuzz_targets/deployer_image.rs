//! `deployer::plan::image::ImageRef`: nothing panics, and parse → rewrite (`at_version`) → parse keeps the
//! registry and the repository of every reference that parses, and sets exactly the new version (and the
//! pinned digest after a tag). The input
//! is a reference, then optionally a NUL and the version to rewrite to.

#![no_main]

use contract::names::Version;
use deployer::plan::image::ImageRef;
use libfuzzer_sys::fuzz_target;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (reference, version) = text.split_once('\0').unwrap_or((text, "v2"));
    let Some(image) = ImageRef::parse(reference) else { return };
    assert!(!image.repository.contains([':', '@']) && !image.repository.is_empty(), "{reference:?} → {image:?}");
    for version in [version, DIGEST] {
        let Ok(version) = Version::parse(version) else { continue };
        for pinned in [None, Some(DIGEST)] {
            let rewritten = image.at_version(&version, pinned);
            let again =
                ImageRef::parse(&rewritten).unwrap_or_else(|| panic!("{reference:?} → {rewritten:?} does not parse"));
            assert_eq!(
                (&again.registry, &again.repository),
                (&image.registry, &image.repository),
                "{reference:?} → {rewritten:?}"
            );
            // A digest version is the digest alone; a tag keeps the pinned digest after it.
            let digest = version.digest().or(pinned);
            assert_eq!((again.tag.as_deref(), again.digest.as_deref()), (version.tag(), digest), "{rewritten:?}");
        }
    }
});
