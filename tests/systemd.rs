//! The systemd unit: `systemd-analyze verify` accepts it and `systemd-analyze security` rates
//! its exposure low. Run offline against the unit file, with ExecStart pointed at the binary
//! under test (verify checks that the executable exists).

use std::path::Path;
use std::process::Command;

fn analyze() -> &'static str {
    assert!(Path::new("/usr/bin/systemd-analyze").exists(), "systemd-analyze is needed (Debian package systemd); run scripts/setup.sh --test");
    "/usr/bin/systemd-analyze"
}

fn unit_under_test(dir: &Path) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/highlightd.service")).expect("systemd/highlightd.service");
    assert!(unit.contains("ExecStart=/usr/bin/highlightd serve"), "the unit starts the daemon");
    let p = dir.join("highlightd.service");
    std::fs::write(&p, unit.replace("/usr/bin/highlightd", env!("CARGO_BIN_EXE_highlightd"))).expect("write unit");
    p
}

#[test]
fn unit_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = unit_under_test(dir.path());
    let out = Command::new(analyze()).arg("verify").arg(&unit).output().expect("run systemd-analyze");
    assert!(out.status.success(), "systemd-analyze verify:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn unit_is_hardened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = unit_under_test(dir.path());
    let out = Command::new(analyze()).args(["security", "--offline=true"]).arg(&unit).output().expect("run systemd-analyze");
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for highlightd.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    eprintln!("systemd-analyze security exposure: {level}");
    // 0 is a service that can do nothing; below 2 is what systemd calls "OK" with a network
    // client and hardware devices that this daemon needs.
    assert!(level <= 1.5, "exposure {level}:\n{text}");
}
