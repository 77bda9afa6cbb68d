//! The timeline plot of one video as inline SVG, drawn by hand so the page needs no script
//! and no library: the highlight probability over frames, the predicted selection as shaded
//! bands, shot cuts as dashed lines, the ground truth as its own band row, seconds on the axis.
//!
//! Coordinates live in a fixed `1000 × h` viewBox that CSS stretches to the page width, so the
//! layout is computed once here and every number is in the same units.

use super::html::escape;
use std::fmt::Write as _;
use std::ops::Range;

/// Width of the viewBox.
pub const VIEW_W: f64 = 1000.0;
/// Left edge of the plot area (room for the y labels and row names).
pub const PLOT_X0: f64 = 46.0;
/// Right edge of the plot area.
pub const PLOT_X1: f64 = 988.0;
const LEGEND_Y: f64 = 13.0;
const PLOT_TOP: f64 = 24.0;
const PLOT_H: f64 = 100.0;
const ROW_H: f64 = 12.0;
const ROW_GAP: f64 = 5.0;

const CURVE: &str = "#d9480f";
const SELECTED: &str = "#1c7ed6";
const TRUTH: &str = "#2f9e44";
const CUT: &str = "#495057";

/// What the timeline shows; frame ranges are half-open and ascending.
#[derive(Debug, Clone, Copy)]
pub struct Timeline<'a> {
    pub frames: usize,
    pub fps: f64,
    /// Per-frame highlight probability, `frames` long (shorter is drawn as far as it goes).
    pub p: &'a [f64],
    /// First frame of every shot but the first.
    pub cuts: &'a [usize],
    /// Frames of the predictions file, as runs.
    pub selected: &'a [Range<usize>],
    /// Ground-truth frames as runs, when a ground truth was given.
    pub truth: Option<&'a [Range<usize>]>,
}

/// The x coordinate of the left edge of `frame` (frame `n` is the right edge of the plot).
pub fn frame_x(frame: f64, frames: usize) -> f64 {
    PLOT_X0 + (PLOT_X1 - PLOT_X0) * frame / frames.max(1) as f64
}

fn prob_y(p: f64) -> f64 {
    let p = if p.is_finite() { p.clamp(0.0, 1.0) } else { 0.0 };
    PLOT_TOP + PLOT_H * (1.0 - p)
}

/// A coordinate with at most two decimals and no trailing zeros: short, stable text.
pub fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// Maximal runs of consecutive frames in an ascending list (duplicates are ignored).
pub fn runs(frames: &[usize]) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for &f in frames {
        match out.last_mut() {
            Some(r) if f < r.end => {}
            Some(r) if f == r.end => r.end = f + 1,
            _ => out.push(f..f + 1),
        }
    }
    out
}

/// A readable tick step (seconds) giving at most about a dozen ticks.
fn tick_step(duration: f64) -> f64 {
    const STEPS: [f64; 16] = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0];
    STEPS.iter().copied().find(|s| duration / s <= 12.0).unwrap_or(7200.0)
}

fn time_label(t: f64, step: f64, long: bool) -> String {
    if long {
        let s = t.round() as u64;
        format!("{}:{:02}", s / 60, s % 60)
    } else if step < 1.0 {
        format!("{t:.1} s")
    } else {
        format!("{} s", t.round() as u64)
    }
}

/// The whole timeline as one `<svg>` element.
pub fn timeline_svg(t: &Timeline) -> String {
    let n = t.frames.max(1);
    let fps = if t.fps.is_finite() && t.fps > 0.0 { t.fps } else { 25.0 };
    let plot_bottom = PLOT_TOP + PLOT_H;
    // A wider first gap keeps the "0" of the y axis clear of the first row's name.
    let sel_row = plot_bottom + ROW_GAP + 4.0;
    let truth_row = sel_row + ROW_H + ROW_GAP;
    let rows_bottom = if t.truth.is_some() { truth_row + ROW_H } else { sel_row + ROW_H };
    let axis_y = rows_bottom + 4.0;
    let height = axis_y + 20.0;
    let plot_w = PLOT_X1 - PLOT_X0;

    let mut s = String::with_capacity(16 * 1024);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {} {}" font-family="sans-serif" font-size="12" role="img" aria-label="{}">"#,
        num(VIEW_W),
        num(height),
        escape(&format!("timeline of {} frames: highlight probability, selected frames, shot cuts", t.frames))
    );
    // Plot frame and probability grid.
    let _ = write!(s, r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#fbfbfc" stroke="#ced4da"/>"##, num(PLOT_X0), num(PLOT_TOP), num(plot_w), num(PLOT_H));
    for (p, label) in [(0.0, "0"), (0.5, "0.5"), (1.0, "1")] {
        let y = prob_y(p);
        let _ = write!(s, r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#e9ecef"/>"##, num(PLOT_X0), num(y), num(PLOT_X1), num(y));
        let _ = write!(s, r##"<text x="{}" y="{}" text-anchor="end" fill="#495057">{label}</text>"##, num(PLOT_X0 - 5.0), num(y + 4.0));
    }
    // Selected frames: shading over the plot, solid in their own row.
    for r in t.selected {
        let (x0, x1) = (frame_x(r.start as f64, n), frame_x(r.end as f64, n));
        let w = (x1 - x0).max(0.6);
        let _ = write!(s, r#"<rect class="sel" x="{}" y="{}" width="{}" height="{}" fill="{SELECTED}" fill-opacity="0.16"/>"#, num(x0), num(PLOT_TOP), num(w), num(PLOT_H));
    }
    row(&mut s, "P", sel_row, t.selected, SELECTED, "sel-row", n);
    if let Some(truth) = t.truth {
        row(&mut s, "GT", truth_row, truth, TRUTH, "gt-row", n);
    }
    // Probability curve, one point per frame, or per bucket of frames when there are more
    // frames than the plot has room for.
    let p = &t.p[..t.p.len().min(n)];
    if !p.is_empty() {
        let bucket = p.len().div_ceil(2 * plot_w as usize).max(1);
        let mut d = String::new();
        let mut area = format!("M{} {}", num(frame_x(0.0, n)), num(plot_bottom));
        for (k, chunk) in p.chunks(bucket).enumerate() {
            let mean = chunk.iter().map(|v| if v.is_finite() { *v } else { 0.0 }).sum::<f64>() / chunk.len() as f64;
            let centre = (k * bucket) as f64 + chunk.len() as f64 / 2.0;
            let (x, y) = (num(frame_x(centre, n)), num(prob_y(mean)));
            let _ = write!(d, "{}{x} {y}", if k == 0 { "M" } else { " L" });
            let _ = write!(area, " L{x} {y}");
        }
        let _ = write!(area, " L{} {} Z", num(frame_x(p.len() as f64, n)), num(plot_bottom));
        let _ = write!(s, r#"<path d="{area}" fill="{CURVE}" fill-opacity="0.10" stroke="none"/>"#);
        let _ = write!(s, r#"<path class="curve" d="{d}" fill="none" stroke="{CURVE}" stroke-width="1.6" stroke-linejoin="round"/>"#);
    }
    // Shot cuts across the plot and the rows.
    for &c in t.cuts.iter().filter(|&&c| c > 0 && c < n) {
        let x = num(frame_x(c as f64, n));
        let _ = write!(s, r#"<line class="cut" x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{CUT}" stroke-width="1" stroke-dasharray="3 2"/>"#, num(PLOT_TOP), num(rows_bottom));
    }
    // Time axis.
    let duration = n as f64 / fps;
    let step = tick_step(duration);
    let long = duration >= 120.0;
    let mut k = 0u64;
    loop {
        let time = k as f64 * step;
        if time > duration + 1e-9 {
            break;
        }
        let x = frame_x(time * fps, n);
        let anchor = if x > PLOT_X1 - 15.0 { "end" } else if k == 0 { "start" } else { "middle" };
        let _ = write!(s, r##"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#868e96"/>"##, num(x), num(axis_y - 3.0), num(axis_y + 2.0));
        let _ = write!(s, r##"<text x="{}" y="{}" text-anchor="{anchor}" fill="#343a40">{}</text>"##, num(x), num(axis_y + 15.0), escape(&time_label(time, step, long)));
        k += 1;
    }
    legend(&mut s, t.truth.is_some());
    s.push_str("</svg>");
    s
}

/// One band row: a light track over the whole video with the runs drawn solid on it.
fn row(s: &mut String, label: &str, y: f64, runs: &[Range<usize>], colour: &str, class: &str, n: usize) {
    let _ = write!(s, r##"<text x="{}" y="{}" text-anchor="end" fill="#343a40" font-weight="bold">{}</text>"##, num(PLOT_X0 - 5.0), num(y + ROW_H - 2.0), escape(label));
    let _ = write!(s, r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#f1f3f5"/>"##, num(PLOT_X0), num(y), num(PLOT_X1 - PLOT_X0), num(ROW_H));
    for r in runs {
        let (x0, x1) = (frame_x(r.start as f64, n), frame_x(r.end as f64, n));
        let _ = write!(s, r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}" fill="{colour}"/>"#, num(x0), num(y), num((x1 - x0).max(0.6)), num(ROW_H));
    }
}

/// The legend along the top edge; item widths are estimated from the label length since
/// SVG cannot measure text without a script.
fn legend(s: &mut String, with_truth: bool) {
    let mut items: Vec<(&str, &str, &str)> = vec![("line", CURVE, "highlight probability"), ("band", SELECTED, "selected (predictions)")];
    if with_truth {
        items.push(("band", TRUTH, "ground truth"));
    }
    items.push(("dash", CUT, "shot cut"));
    let mut x = PLOT_X0;
    let y = LEGEND_Y;
    for (kind, colour, label) in items {
        match kind {
            "line" => {
                let _ = write!(s, r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{colour}" stroke-width="2"/>"#, num(x), num(y - 4.0), num(x + 18.0), num(y - 4.0));
            }
            "dash" => {
                let _ = write!(s, r#"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="{colour}" stroke-dasharray="3 2"/>"#, num(x + 9.0), num(y - 11.0), num(y + 1.0));
            }
            _ => {
                let _ = write!(s, r#"<rect x="{}" y="{}" width="18" height="10" fill="{colour}"/>"#, num(x), num(y - 9.0));
            }
        }
        let _ = write!(s, r##"<text x="{}" y="{}" fill="#212529">{}</text>"##, num(x + 23.0), num(y), escape(label));
        x += 23.0 + label.chars().count() as f64 * 6.6 + 22.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `(x, width)` of every `<rect>` of a class, in document order.
    fn rects(svg: &str, class: &str) -> Vec<(f64, f64)> {
        let tag = format!(r#"<rect class="{class}" "#);
        svg.match_indices(&tag)
            .map(|(i, _)| {
                let rest = &svg[i..];
                let end = rest.find('>').unwrap();
                let el = &rest[..end];
                let attr = |name: &str| -> f64 {
                    let k = format!(r#" {name}=""#);
                    let a = el.find(&k).unwrap() + k.len();
                    el[a..a + el[a..].find('"').unwrap()].parse().unwrap()
                };
                (attr("x"), attr("width"))
            })
            .collect()
    }

    fn timeline<'a>(p: &'a [f64], cuts: &'a [usize], sel: &'a [Range<usize>], truth: Option<&'a [Range<usize>]>) -> Timeline<'a> {
        Timeline { frames: 100, fps: 25.0, p, cuts, selected: sel, truth }
    }

    #[test]
    fn bands_sit_at_the_frames_they_cover() {
        let p = vec![0.5; 100];
        let sel = runs(&[10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 50]);
        assert_eq!(sel, vec![10..20, 50..51]);
        let svg = timeline_svg(&timeline(&p, &[], &sel, None));
        // Plot is 942 units wide over 100 frames: 9.42 per frame from x = 46.
        let row = rects(&svg, "sel-row");
        assert_eq!(row.len(), 2);
        assert!((row[0].0 - 140.2).abs() < 0.01 && (row[0].1 - 94.2).abs() < 0.01, "{row:?}");
        assert!((row[1].0 - 517.0).abs() < 0.01 && (row[1].1 - 9.42).abs() < 0.01, "{row:?}");
        assert_eq!(rects(&svg, "sel"), row, "plot shading and row agree");
        assert!(rects(&svg, "gt-row").is_empty());
        assert!(!svg.contains("ground truth"), "no GT legend without GT");
    }

    #[test]
    fn first_and_last_frame_reach_the_plot_edges() {
        let sel = [0..1, 99..100];
        let svg = timeline_svg(&timeline(&[], &[], &sel, None));
        let row = rects(&svg, "sel-row");
        assert!((row[0].0 - PLOT_X0).abs() < 1e-9);
        assert!((row[1].0 + row[1].1 - PLOT_X1).abs() < 0.01, "{row:?}");
    }

    #[test]
    fn truth_row_cuts_and_axis() {
        let p: Vec<f64> = (0..100).map(|i| i as f64 / 99.0).collect();
        let truth = [Range { start: 25, end: 75 }];
        let svg = timeline_svg(&timeline(&p, &[0, 40, 100], &[], Some(&truth)));
        let gt = rects(&svg, "gt-row");
        assert_eq!(gt.len(), 1);
        assert!((gt[0].0 - frame_x(25.0, 100)).abs() < 0.01 && (gt[0].1 - 471.0).abs() < 0.01, "{gt:?}");
        // Cut at frame 40 only (0 and n are not cuts): x = 46 + 40 × 9.42.
        assert_eq!(svg.matches(r#"class="cut""#).count(), 1);
        assert!(svg.contains(r#"x1="422.8""#), "cut line at frame 40");
        // 100 frames at 25 fps = 4 s: ticks every 0.5 s, 0 to 4 s.
        assert!(svg.contains(">0.0 s<") && svg.contains(">4.0 s<") && !svg.contains(">4.5 s<"));
        assert!(svg.contains("ground truth") && svg.contains(r#"class="curve""#));
        // Curve from p = 0 (bottom, y = 124) to p = 1 (top, y = 24).
        assert!(svg.contains(r#"d="M50.71 124"#), "{}", &svg[svg.find("class=\"curve\"").unwrap()..][..80]);
    }

    #[test]
    fn long_videos_are_bucketed_and_labelled_in_minutes() {
        let p = vec![0.25; 30_000];
        let t = Timeline { frames: 30_000, fps: 25.0, p: &p, cuts: &[], selected: &[], truth: None };
        let svg = timeline_svg(&t);
        let curve = &svg[svg.find(r#"class="curve""#).unwrap()..];
        assert!(curve.matches(" L").count() < 2000, "bucketed");
        assert!(svg.contains(">0:00<") && svg.contains(">20:00<"), "20 min in minutes");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(140.2000001), "140.2");
        assert_eq!(num(46.0), "46");
        assert_eq!(num(-0.001), "0");
        assert_eq!(runs(&[]), Vec::<Range<usize>>::new());
        assert_eq!(runs(&[3, 3, 4, 9]), vec![3..5, 9..10]);
    }
}
