//! The aarch64 cross-build and the Debian packages (issue #7).
//!
//! Uses what `cross/build-aarch64.sh` made (listed in `target/cross/cross-env`): the aarch64
//! binary, the arm64 sysroot, `qemu-aarch64` and the aarch64 ONNX Runtime library. The binary
//! runs under qemu-user with the sysroot as its root for libraries (`-L`), GStreamer's arm64
//! plugins from the sysroot (scanned in-process: `GST_REGISTRY_FORK=no`, so no arm64
//! gst-plugin-scanner is needed) and `ORT_DYLIB_PATH` at the aarch64 `libonnxruntime.so`.
//!
//! Without those outputs every test here prints why it is skipped and passes, unless
//! `HIGHLIGHTD_REQUIRE_CROSS=1` (set by scripts/test.sh once the cross build succeeded), which
//! turns a skip into a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

const TARGET_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/cross");

/// `target/cross/cross-env`: KEY=VALUE lines written by cross/build-aarch64.sh.
fn cross_env() -> Option<BTreeMap<String, String>> {
    let path = Path::new(TARGET_ROOT).join("cross-env");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => return skip(&format!("{} is missing: run cross/build-aarch64.sh (needs rustc-web, gcc-aarch64-linux-gnu, an arm64 sysroot and qemu-aarch64)", path.display())),
    };
    let env: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    for key in ["BIN", "SYSROOT", "QEMU", "ORT_AARCH64"] {
        let value = env.get(key).map(String::as_str).unwrap_or("");
        if value.is_empty() || !Path::new(value).exists() {
            return skip(&format!("{key} ({value:?}) from {} does not exist: run cross/build-aarch64.sh again", path.display()));
        }
    }
    Some(env)
}

fn skip<T>(why: &str) -> Option<T> {
    if std::env::var("HIGHLIGHTD_REQUIRE_CROSS").is_ok_and(|v| v == "1") {
        panic!("HIGHLIGHTD_REQUIRE_CROSS=1 but: {why}");
    }
    eprintln!("SKIPPED (cross_aarch64): {why}");
    None
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The networks' folder of the checkout, if `engines/build.py` made it.
fn engines_dir() -> Option<PathBuf> {
    let dir = repo().join("engines");
    (dir.join("manifest.json").is_file() && dir.join("models").is_dir()).then_some(dir)
}

/// The aarch64 binary under qemu-aarch64 with the arm64 sysroot and its GStreamer plugins.
fn qemu(env: &BTreeMap<String, String>, registry_dir: &Path, args: &[&str]) -> Output {
    qemu_with(env, registry_dir, args, &[])
}

fn qemu_with(env: &BTreeMap<String, String>, registry_dir: &Path, args: &[&str], vars: &[(&str, String)]) -> Output {
    let sysroot = Path::new(&env["SYSROOT"]);
    let started = Instant::now();
    let out = Command::new(&env["QEMU"])
        .current_dir(repo())
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .arg("-L")
        .arg(sysroot)
        .arg(&env["BIN"])
        .args(args)
        .env("GST_PLUGIN_SYSTEM_PATH_1_0", sysroot.join("usr/lib/aarch64-linux-gnu/gstreamer-1.0"))
        .env_remove("GST_PLUGIN_PATH")
        .env_remove("GST_PLUGIN_PATH_1_0")
        .env("GST_REGISTRY_FORK", "no")
        .env("GST_REGISTRY_1_0", registry_dir.join("registry.aarch64.bin"))
        .env("ORT_DYLIB_PATH", &env["ORT_AARCH64"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .output()
        .expect("run qemu-aarch64");
    eprintln!(
        "qemu-aarch64 highlightd {} -> {} in {:.1}s\n--- stdout\n{}--- stderr\n{}---",
        args.join(" "),
        out.status,
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// ELF e_machine of a file: 0xB7 aarch64, 0x3E x86_64.
fn elf_machine(path: &Path) -> u16 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert_eq!(&bytes[..4], b"\x7fELF", "{} is not an ELF file", path.display());
    u16::from_le_bytes([bytes[18], bytes[19]])
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn aarch64_binary_reports_its_version_under_qemu() {
    let Some(env) = cross_env() else { return };
    assert_eq!(elf_machine(Path::new(&env["BIN"])), 0xB7, "the cross-built binary is aarch64");
    assert_eq!(elf_machine(Path::new(&env["ORT_AARCH64"])), 0xB7, "the ONNX Runtime library is aarch64");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = qemu(&env, dir.path(), &["--version"]);
    assert!(out.status.success(), "--version under qemu failed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("highlightd") && text.contains(env!("CARGO_PKG_VERSION")), "unexpected --version output: {text}");
}

/// ONNX Runtime (the aarch64 CPU build from PyPI) loads under emulation and every network of
/// the engines folder runs one inference: `highlightd doctor`.
#[test]
fn aarch64_onnxruntime_runs_the_networks_under_qemu() {
    let Some(env) = cross_env() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vars = vec![("HIGHLIGHTD__ENGINES__PROVIDERS", r#"["cpu"]"#.to_string())];
    if let Some(engines) = engines_dir() {
        vars.push(("HIGHLIGHTD__ENGINES__DIR", format!("{:?}", engines.to_str().unwrap())));
    }
    let out = qemu_with(&env, dir.path(), &["doctor"], &vars);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| text.lines().find(|l| l.split_whitespace().nth(1) == Some(name)).unwrap_or_else(|| panic!("no {name} line in doctor's report:\n{text}")).to_string();
    let ort = line("onnxruntime");
    assert!(ort.starts_with("ok") && ort.contains(&env["ORT_AARCH64"]), "ONNX Runtime did not load under qemu: {ort}");
    assert!(line("highlightd").contains("(aarch64)"), "doctor does not report aarch64");
    match engines_dir() {
        Some(_) => {
            let models: Vec<&str> = text.lines().filter(|l| l.split_whitespace().nth(1) == Some("model")).collect();
            assert!(!models.is_empty(), "no model lines in doctor's report:\n{text}");
            for m in &models {
                assert!(m.starts_with("ok") && m.contains("one inference"), "network failed under qemu: {m}");
            }
        }
        None => eprintln!("NOTE (cross_aarch64): engines/manifest.json or engines/models/ missing (python3 engines/build.py): only the library load was checked"),
    }
}

/// `predict` end to end on the bundled sample (both ratios) under emulation: decoding through
/// the arm64 GStreamer plugins, the networks on the aarch64 ONNX Runtime (required, so a
/// library that does not load fails the run instead of falling back; two networks at 1 frame
/// per second, since each inference is slow under emulation), selection and framing.
#[test]
fn aarch64_binary_predicts_the_sample_under_qemu() {
    let Some(env) = cross_env() else { return };
    let root = repo();
    let index = root.join("samples/index.jsonl");
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("predictions.jsonl");
    let vars = match engines_dir() {
        Some(engines) => vec![
            ("HIGHLIGHTD__ENGINES__DIR", format!("{:?}", engines.to_str().unwrap())),
            ("HIGHLIGHTD__ENGINES__REQUIRED", "true".to_string()),
            ("HIGHLIGHTD__ENGINES__PROVIDERS", r#"["cpu"]"#.to_string()),
            ("HIGHLIGHTD__ENGINES__MODELS", r#"["face", "person"]"#.to_string()),
            ("HIGHLIGHTD__ENGINES__SAMPLE_FPS", "1.0".to_string()),
        ],
        None => {
            eprintln!("NOTE (cross_aarch64): engines/manifest.json or engines/models/ missing (python3 engines/build.py): predict runs without the networks");
            vec![("HIGHLIGHTD__ENGINES__ENABLED", "false".to_string())]
        }
    };
    let out = qemu_with(&env, dir.path(), &["predict", index.to_str().unwrap(), "-o", out_path.to_str().unwrap(), "--jobs", "2"], &vars);
    assert!(out.status.success(), "predict under qemu failed");

    // Valid by every rule of SPEC.md section 3, checked by the host (x86_64) binary.
    let check = Command::new(env!("CARGO_BIN_EXE_highlightd"))
        .args(["validate", out_path.to_str().unwrap(), index.to_str().unwrap()])
        .output()
        .expect("run host highlightd validate");
    assert!(check.status.success(), "validate:\n{}{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));

    // Non-trivial: one line per input, each with highlight frames.
    let text = std::fs::read_to_string(&out_path).expect("predictions written");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    let inputs = std::fs::read_to_string(&index).unwrap().lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(lines.len(), inputs, "one output line per input");
    for line in &lines {
        let n = line["predictions"].as_array().map_or(0, Vec::len);
        eprintln!("aarch64 predict: {} -> {n} predicted frames", line["video_id"]);
        assert!(n >= 10, "{}: only {n} predictions", line["video_id"]);
    }

    // The same input through the host binary: report (not require) agreement, since the two
    // builds may round floating point differently.
    let host_out = dir.path().join("host.jsonl");
    let mut host = Command::new(env!("CARGO_BIN_EXE_highlightd"));
    host.envs(vars.iter().map(|(k, v)| (*k, v.as_str()))).args(["predict", index.to_str().unwrap(), "-o", host_out.to_str().unwrap()]);
    match env.get("ORT_X86_64").filter(|p| !p.is_empty()) {
        Some(p) => host.env("ORT_DYLIB_PATH", p),
        None => host.env_remove("ORT_DYLIB_PATH"),
    };
    let host = host.output().expect("run host predict");
    if host.status.success() {
        let same = std::fs::read_to_string(&host_out).ok().as_deref() == Some(text.as_str());
        eprintln!("aarch64 output {} the x86_64 output", if same { "is byte-identical to" } else { "differs from" });
    }
}

/// The packages: architecture, files, conffile, maintainer scripts, dependencies, lintian.
#[test]
fn debian_packages_are_complete_and_lintian_clean() {
    let Some(env) = cross_env() else { return };
    let debs: Vec<(&str, PathBuf, u16)> = [("DEB_ARM64", "arm64", 0xB7u16), ("DEB_AMD64", "amd64", 0x3E)]
        .into_iter()
        .filter_map(|(key, arch, machine)| {
            let p = env.get(key).filter(|v| !v.is_empty())?;
            Some((arch, PathBuf::from(p), machine))
        })
        .collect();
    if debs.is_empty() {
        skip::<()>("no .deb listed in target/cross/cross-env (cross/build-aarch64.sh was run with --no-deb)");
        return;
    }
    for (arch, deb, machine) in debs {
        assert!(deb.exists(), "{} missing", deb.display());
        let info = run(Command::new("dpkg-deb").arg("-f").arg(&deb));
        let field = |name: &str| {
            info.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).map(str::to_string).unwrap_or_else(|| panic!("no {name} in:\n{info}"))
        };
        assert_eq!(field("Package"), "highlightd");
        assert_eq!(field("Architecture"), arch, "{}", deb.display());
        let depends = field("Depends");
        for p in ["libc6", "libgstreamer1.0-0", "libgstreamer-plugins-base1.0-0", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-good", "adduser"] {
            assert!(depends.contains(p), "Depends lacks {p}: {depends}");
        }

        let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
        // "-rw-r--r-- 0/0  7302 2026-11-22 00:00 ./etc/highlightd/highlightd.toml"
        let has = |path: &str, mode: &str| {
            listing.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() >= 6 && f[0] == mode && (f[1] == "0/0" || f[1] == "root/root") && f[5] == format!(".{path}")
            })
        };
        for (path, mode) in [
            ("/usr/bin/highlightd", "-rwxr-xr-x"),
            ("/usr/lib/systemd/system/highlightd.service", "-rw-r--r--"),
            ("/etc/highlightd/highlightd.toml", "-rw-r--r--"),
            ("/usr/lib/tmpfiles.d/highlightd.conf", "-rw-r--r--"),
            ("/usr/lib/highlightd/libonnxruntime.so", "-rw-r--r--"),
            ("/usr/share/doc/highlightd/copyright", "-rw-r--r--"),
            ("/usr/share/doc/highlightd/changelog.Debian.gz", "-rw-r--r--"),
        ] {
            assert!(has(path, mode), "{}: no {path} ({mode}) in:\n{listing}", deb.display());
        }
        assert!(
            listing.contains("./usr/share/highlightd/engines/manifest.json") || listing.contains("./usr/share/highlightd/engines/README.without-models"),
            "no engines (manifest.json, or the --without-models note) in:\n{listing}"
        );

        // Control files: the conffile, and a postinst that creates the user and folders and
        // enables the unit.
        let control = tempfile::tempdir().expect("tempdir");
        run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(control.path()));
        let conffiles = std::fs::read_to_string(control.path().join("conffiles")).expect("conffiles");
        assert!(conffiles.lines().any(|l| l == "/etc/highlightd/highlightd.toml"), "conffiles: {conffiles}");
        let postinst = std::fs::read_to_string(control.path().join("postinst")).expect("postinst");
        for needle in ["adduser --system", "/var/lib/highlightd/ingest", "/var/lib/highlightd/output", "/var/lib/highlightd/state", "dpkg-statoverride", "deb-systemd-helper enable", "highlightd.service"] {
            assert!(postinst.contains(needle), "postinst lacks {needle:?}:\n{postinst}");
        }
        assert!(!postinst.contains("#DEBHELPER#"), "the #DEBHELPER# token was not replaced");
        for script in ["prerm", "postrm"] {
            assert!(control.path().join(script).exists(), "no {script}");
        }

        // The packaged binary and library are of the package's architecture, and the binary's
        // libraries are all covered by Depends.
        let data = tempfile::tempdir().expect("tempdir");
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(data.path()));
        let bin = data.path().join("usr/bin/highlightd");
        assert_eq!(elf_machine(&bin), machine, "{}: usr/bin/highlightd architecture", deb.display());
        assert_eq!(elf_machine(&data.path().join("usr/lib/highlightd/libonnxruntime.so")), machine, "libonnxruntime.so architecture");
        check_needed_libraries(&bin, &depends);
        check_jetpack6_compatible(&bin);

        // lintian: no errors (warnings are printed). The build script runs lintian on each
        // package it makes and keeps the report next to it; a report newer than the package
        // is that package's, so it is read instead of running lintian (8 s a package) again.
        let report = deb.with_extension("deb.lintian");
        let fresh = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let kept = match (fresh(&report), fresh(&deb)) {
            (Some(r), Some(d)) if r >= d => std::fs::read_to_string(&report).ok(),
            _ => None,
        };
        if kept.is_some() || Path::new("/usr/bin/lintian").exists() {
            let text = kept.unwrap_or_else(|| {
                let out = Command::new("lintian").args(["--tag-display-limit", "0"]).arg(&deb).output().expect("run lintian");
                String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
            });
            eprintln!("lintian {}:\n{text}", deb.display());
            let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("E:")).collect();
            assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));
        } else {
            skip::<()>("lintian is not installed (apt-get install lintian); the lintian check did not run");
        }
    }
}

/// Each NEEDED shared library maps to a package named in Depends.
fn check_needed_libraries(bin: &Path, depends: &str) {
    let dynamic = run(Command::new("readelf").arg("-d").arg(bin));
    let needed: Vec<&str> = dynamic.lines().filter_map(|l| l.split("Shared library: [").nth(1)).map(|s| s.trim_end_matches(']')).collect();
    assert!(!needed.is_empty(), "no NEEDED entries in {}", bin.display());
    for lib in needed {
        let package = match lib {
            l if l.starts_with("libc.so") || l.starts_with("libm.so") || l.starts_with("ld-linux") || l.starts_with("libdl.so") || l.starts_with("libpthread.so") || l.starts_with("librt.so") => "libc6",
            l if l.starts_with("libgcc_s.so") => "libgcc-s1",
            l if l.starts_with("libglib-2.0") || l.starts_with("libgobject-2.0") || l.starts_with("libgmodule-2.0") || l.starts_with("libgio-2.0") => "libglib2.0-0",
            l if l.starts_with("libgstreamer-1.0") || l.starts_with("libgstbase-1.0") => "libgstreamer1.0-0",
            l if ["libgstapp-1.0", "libgstvideo-1.0", "libgstaudio-1.0", "libgstpbutils-1.0", "libgsttag-1.0"].iter().any(|p| l.starts_with(p)) => "libgstreamer-plugins-base1.0-0",
            other => panic!("{}: NEEDED {other} is not mapped to a package; add it to Depends and to this test", bin.display()),
        };
        assert!(depends.contains(package), "NEEDED {lib} needs {package} in Depends: {depends}");
    }
}

/// JetPack 6 is Ubuntu 22.04: glibc 2.35 and GStreamer 1.20. The binary may need no newer
/// glibc symbol version, and no GStreamer symbol that Debian's symbols files date after 1.20.
fn check_jetpack6_compatible(bin: &Path) {
    let symbols = run(Command::new("objdump").arg("-T").arg(bin));
    let mut worst_glibc = (0u32, 0u32);
    let mut undefined_gst = Vec::new();
    for line in symbols.lines() {
        if let Some(v) = line.split("GLIBC_").nth(1).and_then(|r| r.split_whitespace().next()) {
            let mut parts = v.trim_end_matches(')').split('.').map(|x| x.parse::<u32>().unwrap_or(0));
            let ver = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
            worst_glibc = worst_glibc.max(ver);
        }
        if line.contains("*UND*") {
            if let Some(name) = line.split_whitespace().last().filter(|n| n.starts_with("gst_")) {
                undefined_gst.push(name.to_string());
            }
        }
    }
    eprintln!("{}: highest glibc symbol version GLIBC_{}.{}", bin.display(), worst_glibc.0, worst_glibc.1);
    assert!(worst_glibc <= (2, 35), "{} needs GLIBC_{}.{}, newer than JetPack 6's 2.35", bin.display(), worst_glibc.0, worst_glibc.1);

    let mut since: BTreeMap<String, String> = BTreeMap::new();
    let mut files = 0;
    for file in ["libgstreamer1.0-0", "libgstreamer-plugins-base1.0-0"] {
        for arch in ["amd64", "arm64"] {
            let Ok(text) = std::fs::read_to_string(format!("/var/lib/dpkg/info/{file}:{arch}.symbols")) else { continue };
            files += 1;
            for l in text.lines().filter(|l| l.starts_with(' ')) {
                let mut it = l.split_whitespace();
                if let (Some(sym), Some(ver)) = (it.next(), it.next()) {
                    since.insert(sym.trim_end_matches("@Base").to_string(), ver.to_string());
                }
            }
        }
    }
    if files == 0 {
        eprintln!("SKIPPED (GStreamer 1.20 symbol check): no GStreamer symbols files in /var/lib/dpkg/info");
        return;
    }
    let newer: Vec<String> = undefined_gst
        .iter()
        .filter_map(|s| {
            let v = since.get(s)?;
            let mut p = v.split(['.', '~', '-', '+']).map(|x| x.parse::<u32>().unwrap_or(0));
            ((p.next().unwrap_or(0), p.next().unwrap_or(0)) > (1, 20)).then(|| format!("{s} (since {v})"))
        })
        .collect();
    eprintln!("{}: {} GStreamer symbols used, none newer than 1.20: {}", bin.display(), undefined_gst.len(), newer.is_empty());
    assert!(newer.is_empty(), "GStreamer API newer than 1.20 (JetPack 6) used: {newer:?}");
}
