//! Health figures read from the machine for the `stats` message: free disk space, the
//! hottest thermal zone and, on Jetson, the GPU load. Each is best effort: a figure that cannot
//! be read is `None` (sent as `null`), never an error, because a missing sensor must not stop
//! the daemon or its reports.

use super::payload::Stats;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for `df`: a hung network mount must not stall the stats.
const DF_TIMEOUT: Duration = Duration::from_secs(2);

/// Thermal zones whose value is not a temperature of the silicon: Jetson's `PMIC-Die` reads a
/// constant 100 °C and `thermal-fan-est` is a fan-curve estimate; taking them into the maximum
/// would report a box that is always "at 100 °C".
const IGNORED_ZONES: [&str; 2] = ["PMIC-Die", "thermal-fan-est"];

/// Jetson GPU load files, per mille, relative to `/sys`: older L4T (Nano, TX2, Xavier) and
/// newer (Orin) layouts.
const GPU_LOAD_FILES: [&str; 4] = ["devices/gpu.0/load", "devices/platform/gpu.0/load", "devices/platform/17000000.ga10b/load", "devices/platform/17000000.gv11b/load"];

/// Free bytes for unprivileged users on the file system holding `path`, from
/// `df -B1 --output=avail` (the standard library has no `statvfs`, and the crate takes no
/// dependency just for it).
pub fn disk_free_bytes(path: &Path) -> Option<u64> {
    let mut child = Command::new("df").arg("-B1").arg("--output=avail").arg("--").arg(path).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().ok()?;
    let deadline = Instant::now() + DF_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    parse_df_avail(&out)
}

/// The number on the last line of `df --output=avail` (the first line is the header).
pub fn parse_df_avail(out: &str) -> Option<u64> {
    let mut lines = out.lines().map(str::trim).filter(|l| !l.is_empty());
    let _header = lines.next()?;
    lines.next_back()?.parse().ok()
}

/// The hottest thermal zone under `<sys>/class/thermal`, °C.
pub fn max_temperature_c(sys: &Path) -> Option<f64> {
    let dir = std::fs::read_dir(sys.join("class/thermal")).ok()?;
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("thermal_zone"))
        .filter(|e| {
            let kind = std::fs::read_to_string(e.path().join("type")).unwrap_or_default();
            !IGNORED_ZONES.contains(&kind.trim())
        })
        .filter_map(|e| parse_millidegrees(&std::fs::read_to_string(e.path().join("temp")).ok()?))
        .reduce(f64::max)
}

/// A thermal zone reading (millidegrees Celsius) in °C; readings outside −40…150 °C are
/// disabled or broken sensors (some report −273 °C or 255 °C) and are ignored.
pub fn parse_millidegrees(text: &str) -> Option<f64> {
    let c = text.trim().parse::<i64>().ok()? as f64 / 1000.0;
    (-40.0..=150.0).contains(&c).then_some(c)
}

/// GPU load in percent from the first readable Jetson load file under `sys`.
pub fn gpu_load_percent(sys: &Path) -> Option<f64> {
    GPU_LOAD_FILES.iter().find_map(|f| {
        let permille = std::fs::read_to_string(sys.join(f)).ok()?.trim().parse::<u32>().ok()?;
        (permille <= 1000).then(|| f64::from(permille) / 10.0)
    })
}

/// Clock ticks per second of the CPU times in `/proc/<pid>/stat` (`USER_HZ`): the kernel
/// reports them in this fixed unit on every architecture Linux runs on, whatever its `HZ`.
pub const USER_HZ: f64 = 100.0;

/// User plus system CPU time of a process in clock ticks, from the text of `/proc/<pid>/stat`
/// (fields 14 and 15). The command name (field 2) may hold spaces and parentheses, so fields
/// are counted from its closing parenthesis, the last one in the line.
pub fn parse_proc_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // After the name: state (field 3) is the first; utime is field 14, stime field 15.
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// This process's CPU time so far, in clock ticks ([`USER_HZ`]).
pub fn own_cpu_ticks() -> Option<u64> {
    parse_proc_stat_cpu_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// CPU share in percent of one core between two (time, CPU ticks) samples: 100 is one core
/// busy, 200 two. `None` when no time passed or the counter went backwards.
pub fn cpu_percent(prev: (Instant, u64), now: (Instant, u64)) -> Option<f64> {
    let dt = now.0.saturating_duration_since(prev.0).as_secs_f64();
    if dt <= 0.0 || now.1 < prev.1 {
        return None;
    }
    Some((now.1 - prev.1) as f64 / USER_HZ / dt * 100.0)
}

/// Frames per second between two (time, frame count) samples; 0 for no elapsed time or a
/// counter that went backwards (a restart of the count).
pub fn throughput(prev: (Instant, u64), now: (Instant, u64)) -> f64 {
    let dt = now.0.saturating_duration_since(prev.0).as_secs_f64();
    if dt <= 0.0 || now.1 < prev.1 {
        return 0.0;
    }
    (now.1 - prev.1) as f64 / dt
}

/// Builds [`Stats`] from the daemon's counters plus the machine's figures; call it every
/// `stats_interval_s` and hand the result to [`super::StatusHandle::stats`].
#[derive(Debug, Clone)]
pub struct StatsSampler {
    disk_path: Option<PathBuf>,
    state_path: Option<PathBuf>,
    sys: PathBuf,
    last: Option<(Instant, u64)>,
    /// The daemon's CPU time at the previous sample (or at creation).
    last_cpu: Option<(Instant, u64)>,
}

impl StatsSampler {
    /// `disk_path`: the folder whose file system's free space is reported (the ingest or
    /// output folder), or `None` for no disk figure.
    pub fn new(disk_path: Option<PathBuf>) -> Self {
        Self { disk_path, state_path: None, sys: PathBuf::from("/sys"), last: None, last_cpu: own_cpu_ticks().map(|t| (Instant::now(), t)) }
    }

    /// Also reports the free space of `state`'s file system (the job store's folder).
    pub fn with_state_path(mut self, state: PathBuf) -> Self {
        self.state_path = Some(state);
        self
    }

    /// Reads sensors from another `/sys` tree (tests).
    pub fn with_sys_root(mut self, sys: PathBuf) -> Self {
        self.sys = sys;
        self
    }

    /// `fps` is the throughput since the previous call (0 on the first); `cpu_percent` the
    /// process's own CPU share since the previous call (or since the sampler was made).
    pub fn sample(&mut self, frames_processed: u64, videos_done: u64, videos_failed: u64) -> Stats {
        let now = (Instant::now(), frames_processed);
        let fps = self.last.map_or(0.0, |prev| throughput(prev, now));
        self.last = Some(now);
        let cpu_now = own_cpu_ticks().map(|t| (now.0, t));
        let cpu_percent = self.last_cpu.zip(cpu_now).and_then(|(prev, cur)| cpu_percent(prev, cur));
        self.last_cpu = cpu_now;
        Stats {
            frames_processed,
            fps,
            videos_done,
            videos_failed,
            disk_free_bytes: self.disk_path.as_deref().and_then(disk_free_bytes),
            state_disk_free_bytes: self.state_path.as_deref().and_then(disk_free_bytes),
            temperature_c: max_temperature_c(&self.sys),
            gpu_load: gpu_load_percent(&self.sys),
            cpu_percent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_output_parses() {
        assert_eq!(parse_df_avail("      Avail\n123456789\n"), Some(123_456_789));
        assert_eq!(parse_df_avail("Avail\n"), None);
        assert_eq!(parse_df_avail(""), None);
        assert_eq!(parse_df_avail("Avail\nx\n"), None);
    }

    #[test]
    fn disk_free_of_a_real_folder() {
        let dir = tempfile::tempdir().unwrap();
        if Command::new("df").arg("--version").output().is_ok() {
            assert!(disk_free_bytes(dir.path()).is_some());
        }
        assert_eq!(disk_free_bytes(&dir.path().join("missing/folder")), None);
    }

    #[test]
    fn thermal_zones_max_ignoring_fake_ones() {
        let sys = tempfile::tempdir().unwrap();
        let zone = |n: usize, kind: &str, temp: &str| {
            let d = sys.path().join(format!("class/thermal/thermal_zone{n}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("type"), format!("{kind}\n")).unwrap();
            std::fs::write(d.join("temp"), temp).unwrap();
        };
        assert_eq!(max_temperature_c(sys.path()), None);
        zone(0, "CPU-therm", "41500\n");
        zone(1, "GPU-therm", "43000\n");
        zone(2, "PMIC-Die", "100000\n");
        zone(3, "broken", "-273000\n");
        zone(4, "junk", "hot\n");
        std::fs::create_dir_all(sys.path().join("class/thermal/cooling_device0")).unwrap();
        assert_eq!(max_temperature_c(sys.path()), Some(43.0));
    }

    #[test]
    fn jetson_gpu_load() {
        let sys = tempfile::tempdir().unwrap();
        assert_eq!(gpu_load_percent(sys.path()), None);
        let f = sys.path().join("devices/gpu.0/load");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "537\n").unwrap();
        assert_eq!(gpu_load_percent(sys.path()), Some(53.7));
        std::fs::write(&f, "2000\n").unwrap();
        assert_eq!(gpu_load_percent(sys.path()), None);
    }

    #[test]
    fn throughput_and_sampler() {
        let t0 = Instant::now();
        assert_eq!(throughput((t0, 100), (t0 + Duration::from_secs(2), 160)), 30.0);
        assert_eq!(throughput((t0, 100), (t0, 160)), 0.0);
        assert_eq!(throughput((t0, 100), (t0 + Duration::from_secs(1), 50)), 0.0);
        let sys = tempfile::tempdir().unwrap();
        let mut s = StatsSampler::new(None).with_sys_root(sys.path().into());
        let a = s.sample(10, 1, 0);
        assert_eq!((a.fps, a.frames_processed, a.disk_free_bytes, a.temperature_c, a.gpu_load), (0.0, 10, None, None, None));
        std::thread::sleep(Duration::from_millis(20));
        assert!(s.sample(20, 1, 0).fps > 0.0);
    }

    #[test]
    fn proc_stat_cpu_ticks_parse_whatever_the_command_name() {
        // Fields 14 and 15 (utime 1234, stime 56) after a name with spaces and parentheses.
        let line = "4242 (high (light) d) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 7 0 555 1000000 2000 18446744073709551615";
        assert_eq!(parse_proc_stat_cpu_ticks(line), Some(1290));
        assert_eq!(parse_proc_stat_cpu_ticks("4242 (x) S 1 2"), None);
        assert_eq!(parse_proc_stat_cpu_ticks("no parenthesis"), None);
        assert!(own_cpu_ticks().is_some(), "this test's own /proc/self/stat");
    }

    #[test]
    fn cpu_share_of_a_spinning_process_is_seen() {
        let t0 = Instant::now();
        assert_eq!(cpu_percent((t0, 100), (t0 + Duration::from_secs(10), 150)), Some(5.0));
        assert_eq!(cpu_percent((t0, 100), (t0 + Duration::from_secs(2), 500)), Some(200.0));
        assert_eq!(cpu_percent((t0, 100), (t0, 150)), None);
        assert_eq!(cpu_percent((t0, 100), (t0 + Duration::from_secs(1), 50)), None);
        // The sampler over a real busy spell of this process. Its share of the wall time depends
        // on what else the machine runs (CI runs this at nice 19 beside other builds: 9 % once),
        // so it is checked against the process's own ticks over the same spell, read apart from
        // the sampler, and the spin lasts until the process has used 200 ms of processor time
        // (20 ticks), so that the comparison has resolution.
        let mut s = StatsSampler::new(None);
        let start = (Instant::now(), own_cpu_ticks().expect("own ticks"));
        let deadline = start.0 + Duration::from_secs(30);
        let mut x = 0u64;
        while own_cpu_ticks().is_some_and(|t| t < start.1 + 20) && Instant::now() < deadline {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
        let share = s.sample(0, 0, 0).cpu_percent.expect("a CPU share");
        let end = (Instant::now(), own_cpu_ticks().expect("own ticks"));
        let independent = cpu_percent(start, end).expect("a CPU share");
        // Two ticks of slack: the two readings straddle the spell by a few microseconds each.
        let slack = 2.0 / USER_HZ / end.0.duration_since(start.0).as_secs_f64() * 100.0;
        assert!(independent > 0.0 && (share - independent).abs() <= slack, "sampler {share} %, ticks {independent} % (± {slack}) while spinning");
    }
}
