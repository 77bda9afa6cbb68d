//! Where the models and the ONNX Runtime library are, on a checkout, an installed package and
//! a Jetson. Pure functions over candidate lists, so the search order is tested without the
//! files; the caller picks the first candidate that exists.

use std::path::{Path, PathBuf};

/// Where the Debian package installs the engines folder.
pub const PACKAGED_ENGINES: &str = "/usr/share/highlightd/engines";
/// Where the Debian package installs the ONNX Runtime library.
pub const PACKAGED_LIBRARY: &str = "/usr/lib/highlightd/libonnxruntime.so";
/// Environment variable naming the library, as the `ort` crate and its users know it.
pub const LIBRARY_ENV: &str = "ORT_DYLIB_PATH";

/// Candidate engines folders, in order: the configured one (only that, when set); else
/// `./engines`, the checkout the binary was built in (`target/<profile>/highlightd` →
/// `../../engines`), and the packaged folder.
pub fn engines_dir_candidates(configured: &Path, exe: Option<&Path>, cwd: &Path) -> Vec<PathBuf> {
    if !configured.as_os_str().is_empty() {
        return vec![cwd.join(configured)];
    }
    let mut out = vec![cwd.join("engines")];
    if let Some(root) = exe.and_then(Path::parent).and_then(Path::parent).and_then(Path::parent) {
        out.push(root.join("engines"));
    }
    out.push(PathBuf::from(PACKAGED_ENGINES));
    out
}

/// Candidate ONNX Runtime libraries, in order: the configured one (only that, when set);
/// else `$ORT_DYLIB_PATH`, the engines folder's `lib/<arch>/`, the packaged library, and
/// finally the bare name for the dynamic loader's own search (`LD_LIBRARY_PATH`, ldconfig).
pub fn library_candidates(configured: &Path, env: Option<&str>, engines_dir: Option<&Path>, arch: &str) -> Vec<PathBuf> {
    if !configured.as_os_str().is_empty() {
        return vec![configured.to_path_buf()];
    }
    let mut out = Vec::new();
    if let Some(e) = env.filter(|e| !e.is_empty()) {
        out.push(PathBuf::from(e));
    }
    if let Some(d) = engines_dir {
        out.push(d.join("lib").join(arch).join("libonnxruntime.so"));
    }
    out.push(PathBuf::from(PACKAGED_LIBRARY));
    out.push(PathBuf::from("libonnxruntime.so"));
    out
}

/// The first candidate for which `exists` holds; a bare file name (no directory) is taken
/// as is, since the dynamic loader searches for it.
pub fn first_existing(candidates: &[PathBuf], exists: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    candidates.iter().find(|c| c.parent().is_none_or(|p| p.as_os_str().is_empty()) || exists(c)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_dir_search_order() {
        let c = engines_dir_candidates(Path::new(""), Some(Path::new("/src/hl/target/release/highlightd")), Path::new("/work"));
        assert_eq!(c, vec![PathBuf::from("/work/engines"), PathBuf::from("/src/hl/engines"), PathBuf::from(PACKAGED_ENGINES)]);
        let c = engines_dir_candidates(Path::new("models"), Some(Path::new("/usr/bin/highlightd")), Path::new("/etc"));
        assert_eq!(c, vec![PathBuf::from("/etc/models")]);
        let c = engines_dir_candidates(Path::new("/opt/e"), None, Path::new("/etc"));
        assert_eq!(c, vec![PathBuf::from("/opt/e")]);
    }

    #[test]
    fn library_search_order() {
        let c = library_candidates(Path::new(""), Some("/x/libonnxruntime.so.1.22.1"), Some(Path::new("/e")), "aarch64");
        assert_eq!(
            c,
            vec![
                PathBuf::from("/x/libonnxruntime.so.1.22.1"),
                PathBuf::from("/e/lib/aarch64/libonnxruntime.so"),
                PathBuf::from(PACKAGED_LIBRARY),
                PathBuf::from("libonnxruntime.so"),
            ]
        );
        let c = library_candidates(Path::new("/jetpack/libonnxruntime.so"), Some("/x"), None, "aarch64");
        assert_eq!(c, vec![PathBuf::from("/jetpack/libonnxruntime.so")]);
        assert_eq!(library_candidates(Path::new(""), Some(""), None, "x86_64")[0], PathBuf::from(PACKAGED_LIBRARY));
    }

    #[test]
    fn first_existing_skips_missing_files_but_keeps_a_bare_name() {
        let c = library_candidates(Path::new(""), None, Some(Path::new("/e")), "x86_64");
        assert_eq!(first_existing(&c, |p| p == Path::new(PACKAGED_LIBRARY)), Some(PathBuf::from(PACKAGED_LIBRARY)));
        assert_eq!(first_existing(&c, |_| false), Some(PathBuf::from("libonnxruntime.so")));
        assert_eq!(first_existing(&[PathBuf::from("/a/b")], |_| false), None);
    }
}
