//! Page assembly: the summary table, one section per video, the inline stylesheet, and the
//! escaping every piece of text goes through (video ids, paths and error messages come from
//! input files and must never become markup).

use super::svg::{self, Timeline};
use super::thumbs::Thumb;
use super::{base64, Analysis, Report, Section, Short};
use crate::format::{AspectRatio, Prediction, Window};
use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --sel: #1c7ed6; --gt: #2f9e44; --ink: #212529; --mute: #6c757d; --line: #dee2e6; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #f4f5f7; }
main { max-width: 1240px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0; }
.sub { color: var(--mute); margin: 0 0 16px; word-break: break-all; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; margin: 0 0 18px; }
.score { display: flex; gap: 28px; align-items: baseline; flex-wrap: wrap; margin-bottom: 10px; }
.score b { font-size: 28px; }
table.summary { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.summary th, table.summary td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: right; white-space: nowrap; }
table.summary th:nth-child(-n+2), table.summary td:nth-child(-n+2) { text-align: left; }
table.summary td.remark { text-align: left; white-space: normal; color: var(--mute); }
table.summary th:last-child { text-align: left; }
table.summary tr.err td { color: #c92a2a; }
a { color: var(--sel); text-decoration: none; }
.head { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; margin-bottom: 10px; }
.head .path { color: var(--mute); font-size: 12px; word-break: break-all; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 8px; margin: 0 0 10px; }
.facts div { background: #f1f3f5; border-radius: 6px; padding: 3px 9px; }
.facts span { color: var(--mute); margin-right: 6px; font-size: 12px; }
.facts .metric { background: #ebfbee; }
.facts .metric.main { background: #d3f9d8; font-size: 16px; }
svg.timeline { width: 100%; height: auto; display: block; margin: 4px 0 8px; }
.legend { font-size: 12px; color: var(--mute); margin: 6px 0; }
.legend i { display: inline-block; width: 14px; height: 10px; margin: 0 4px 0 10px; vertical-align: -1px; border: 2px solid; }
.thumbs { display: flex; flex-wrap: wrap; gap: 10px; }
.thumbs figure { margin: 0; }
.thumbs svg { display: block; background: #000; border-radius: 4px; }
.thumbs figcaption { font-size: 12px; color: var(--mute); text-align: center; font-variant-numeric: tabular-nums; }
.note { background: #fff9db; border-left: 4px solid #fab005; padding: 6px 10px; margin: 8px 0; }
.error { background: #fff5f5; border-left: 4px solid #e03131; padding: 6px 10px; margin: 8px 0; white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
video { display: block; max-width: 100%; max-height: 420px; margin-top: 10px; background: #000; border-radius: 4px; }
h3 { font-size: 14px; margin: 12px 0 4px; color: #495057; }
"#;

fn f3(v: f64) -> String {
    format!("{v:.3}")
}

fn seconds(frames: f64, fps: f64) -> String {
    if fps > 0.0 { format!("{:.2} s", frames / fps) } else { "?".into() }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// The whole page.
pub fn page(r: &Report) -> String {
    let mut s = String::with_capacity(256 * 1024);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(s, "<title>highlightd report — {}</title><style>{STYLE}</style></head><body><main>", escape(&r.predictions));
    s.push_str("<h1>highlightd report</h1>");
    let _ = write!(s, "<p class=\"sub\">input {} · predictions {}", escape(&r.input), escape(&r.predictions));
    if let Some(gt) = &r.gt {
        let _ = write!(s, " · ground truth {}", escape(gt));
    }
    s.push_str("</p>");
    summary(&mut s, r);
    for (i, sec) in r.sections.iter().enumerate() {
        section(&mut s, i, sec);
    }
    s.push_str("</main></body></html>\n");
    s
}

fn summary(s: &mut String, r: &Report) {
    let gt = r.gt.is_some();
    s.push_str("<section class=\"card\"><div class=\"score\">");
    let _ = write!(s, "<div>videos <b>{}</b></div>", r.sections.len());
    let failed = r.sections.iter().filter(|x| x.analysis.is_err()).count();
    if failed > 0 {
        let _ = write!(s, "<div>failed <b>{failed}</b></div>");
    }
    if gt {
        match r.score() {
            Some((score, n)) => {
                let _ = write!(s, "<div>score <b>{score:.2}</b> <span class=\"sub\">100 × mean F over {n} scored video{}</span></div>", if n == 1 { "" } else { "s" });
            }
            None => s.push_str("<div>score <b>—</b> <span class=\"sub\">no video could be scored</span></div>"),
        }
    }
    s.push_str("</div>");
    s.push_str("<table class=\"summary\"><thead><tr><th>#</th><th>video</th><th>frames</th><th>duration</th><th>target</th><th>selected</th>");
    if gt {
        s.push_str("<th>GT frames</th><th>F</th><th>temporal F</th><th>crop IoU</th>");
    }
    s.push_str("<th>note</th></tr></thead><tbody>");
    for (i, sec) in r.sections.iter().enumerate() {
        let err = sec.analysis.is_err();
        let _ = write!(s, "<tr{}><td>{}</td><td><a href=\"#video-{i}\">{}</a></td>", if err { " class=\"err\"" } else { "" }, i + 1, escape(&sec.video_id));
        match &sec.analysis {
            Ok(a) => {
                let _ = write!(s, "<td>{}</td><td>{}</td>", a.frames, seconds(a.frames as f64, a.fps));
            }
            Err(_) => s.push_str("<td>—</td><td>—</td>"),
        }
        let _ = write!(s, "<td>{}</td><td>{}</td>", sec.ratio.map_or("?".into(), |r| r.to_string()), sec.selected.len());
        if gt {
            match (&sec.truth, &sec.score) {
                (Some((t, _)), Some(v)) => {
                    let _ = write!(s, "<td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td>", t.len(), f3(v.f), f3(v.temporal_f), f3(v.crop_iou));
                }
                (Some((t, _)), None) => {
                    let _ = write!(s, "<td>{}</td><td>—</td><td>—</td><td>—</td>", t.len());
                }
                (None, _) => s.push_str("<td>—</td><td>—</td><td>—</td><td>—</td>"),
            }
        }
        let note = match (&sec.analysis, sec.selected.is_empty()) {
            (Err(_), _) => "analysis failed".to_string(),
            (Ok(_), true) => "nothing selected".to_string(),
            (Ok(_), false) if gt && sec.truth.is_none() => "not in the ground truth".to_string(),
            _ => String::new(),
        };
        let _ = write!(s, "<td class=\"remark\">{}</td></tr>", escape(&note));
    }
    s.push_str("</tbody></table>");
    if r.unmatched_lines > 0 {
        let _ = write!(s, "<p class=\"note\">{} line(s) of the predictions file name videos that are not in the input: not shown.</p>", r.unmatched_lines);
    }
    if r.gt_not_reported > 0 {
        let _ = write!(s, "<p class=\"note\">{} ground-truth video(s) are not in this report and not in its score.</p>", r.gt_not_reported);
    }
    s.push_str("</section>");
}

fn fact(s: &mut String, class: &str, label: &str, value: &str) {
    let _ = write!(s, "<div class=\"{class}\"><span>{}</span>{}</div>", escape(label), escape(value));
}

fn section(s: &mut String, i: usize, sec: &Section) {
    let _ = write!(s, "<section class=\"card\" id=\"video-{i}\"><div class=\"head\"><h2>{}</h2><span class=\"path\">{}</span></div>", escape(&sec.video_id), escape(&sec.source));
    let a = match &sec.analysis {
        Ok(a) => a,
        Err(e) => {
            let _ = write!(s, "<div class=\"facts\">");
            fact(s, "", "target", &sec.ratio.map_or("?".into(), |r| r.to_string()));
            fact(s, "", "prediction entries", &sec.entries.to_string());
            s.push_str("</div>");
            let _ = write!(s, "<div class=\"error\">analysis failed: {}</div></section>", escape(e));
            return;
        }
    };
    s.push_str("<div class=\"facts\">");
    fact(s, "", "source", &format!("{} × {}", a.width, a.height));
    fact(s, "", "frames", &a.frames.to_string());
    fact(s, "", "fps", format!("{:.3}", a.fps).trim_end_matches('0').trim_end_matches('.'));
    fact(s, "", "duration", &seconds(a.frames as f64, a.fps));
    fact(s, "", "target", &sec.ratio.map_or("?".into(), |r| r.to_string()));
    fact(s, "", "selected", &sec.selected.len().to_string());
    let modes: Vec<String> = a.modes.iter().map(|(m, n)| format!("{m} {n}")).collect();
    fact(s, "", "shots", &format!("{} ({})", a.shots, modes.join(", ")));
    fact(s, "", "engine now selects", &a.engine_selected.to_string());
    if let Some(v) = &sec.score {
        fact(s, "metric main", "F", &f3(v.f));
        fact(s, "metric", "temporal F", &f3(v.temporal_f));
        fact(s, "metric", "crop IoU", &f3(v.crop_iou));
        fact(s, "metric", "N_pred / N_gt / matched", &format!("{} / {} / {}", v.n_pred, v.n_gt, v.matched));
    }
    s.push_str("</div>");
    if sec.selected.is_empty() {
        s.push_str("<p class=\"note\">nothing selected: the predictions list of this video is empty (or holds no valid entry).</p>");
    }
    let dropped = sec.entries.saturating_sub(sec.selected.len());
    if dropped > 0 {
        let _ = write!(s, "<p class=\"note\">{dropped} prediction entr{} unreadable, invalid for this video or repeat a frame: counted in N_pred, not drawn.</p>", if dropped == 1 { "y is" } else { "ies are" });
    }
    if sec.gt_given && sec.truth.is_none() {
        s.push_str("<p class=\"note\">this video is not in the ground truth: not scored.</p>");
    }

    let n = a.frames as usize;
    let sel_frames: Vec<usize> = sec.selected.iter().map(|p| p.frame as usize).filter(|&f| f < n).collect();
    let sel_runs = svg::runs(&sel_frames);
    let truth_runs = sec.truth.as_ref().map(|(t, _)| {
        let mut f: Vec<usize> = t.iter().filter_map(|p| usize::try_from(p.frame).ok()).filter(|&f| f < n).collect();
        f.sort_unstable();
        svg::runs(&f)
    });
    s.push_str(&svg::timeline_svg(&Timeline { frames: n, fps: a.fps, p: &a.p, cuts: &a.cuts, selected: &sel_runs, truth: truth_runs.as_deref() }));

    s.push_str("<h3>frames</h3>");
    match &sec.thumbs {
        Ok(t) if t.is_empty() => s.push_str("<p class=\"note\">no thumbnail.</p>"),
        Ok(t) => thumbs(s, sec, a, t),
        Err(e) => {
            let _ = write!(s, "<div class=\"error\">thumbnails: {}</div>", escape(e));
        }
    }
    match &sec.short {
        Short::Absent => {}
        Short::Embedded { uri, bytes } => {
            let _ = write!(s, "<h3>rendered short ({})</h3><video controls preload=\"metadata\" src=\"{}\"></video>", mb(*bytes), escape(uri));
        }
        Short::TooLarge { bytes, limit } => {
            let _ = write!(s, "<p class=\"note\">the rendered short is {}, over the {} limit: not embedded.</p>", mb(*bytes), mb(*limit));
        }
        Short::Unreadable(e) => {
            let _ = write!(s, "<div class=\"error\">rendered short: {}</div>", escape(e));
        }
    }
    s.push_str("</section>");
}

/// A window with the ratio that sizes it, when the frame has one.
type Sized = Option<(Window, AspectRatio)>;

/// The window of `frame` in a list sorted by frame.
fn window_at(list: &[Prediction], frame: usize) -> Option<Window> {
    let f = i64::try_from(frame).ok()?;
    list.binary_search_by_key(&f, |p| p.frame).ok().map(|i| list[i].window)
}

/// Display size of a thumbnail: at most 270 × 160 CSS pixels, aspect kept, so four
/// landscape thumbnails fit one row of the page.
fn display_size(w: u32, h: u32) -> (f64, f64) {
    let (w, h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let k = (270.0 / w).min(160.0 / h);
    (w * k, h * k)
}

fn thumbs(s: &mut String, sec: &Section, a: &Analysis, list: &[Thumb]) {
    let windows: Vec<(Sized, Sized)> = list
        .iter()
        .map(|t| {
            let pred = sec.ratio.and_then(|r| window_at(&sec.selected, t.frame).map(|w| (w, r)));
            let truth = sec.truth.as_ref().and_then(|(list, r)| window_at(list, t.frame).map(|w| (w, *r)));
            (pred, truth)
        })
        .collect();
    // The legend names only what is drawn: no crop is drawn on frames nobody selected.
    let mut legend = Vec::new();
    if windows.iter().any(|w| w.0.is_some()) {
        legend.push("<i style=\"border-color:#4dabf7\"></i>predicted crop (outside dimmed)");
    } else {
        legend.push("no predicted crop: frames spread over the whole video");
    }
    if windows.iter().any(|w| w.1.is_some()) {
        legend.push("<i style=\"border-color:#69db7c;border-style:dashed\"></i>ground-truth crop");
    }
    let _ = write!(s, "<div class=\"legend\">{}</div><div class=\"thumbs\">", legend.join(" "));
    for (t, (pred, truth)) in list.iter().zip(windows) {
        s.push_str("<figure>");
        s.push_str(&thumb_svg(a.width, a.height, t, pred, truth));
        let _ = write!(s, "<figcaption>frame {} · {}{}</figcaption></figure>", t.frame, seconds(t.frame as f64, a.fps), if pred.is_none() && !sec.selected.is_empty() { " · not selected" } else { "" });
    }
    s.push_str("</div>");
}

/// One thumbnail as SVG in source-pixel coordinates: the JPEG stretched over the whole
/// picture, so the windows are drawn with their own numbers, no rescaling.
pub fn thumb_svg(width: u32, height: u32, t: &Thumb, pred: Sized, truth: Sized) -> String {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let (dw, dh) = display_size(width, height);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="frame {}"><image href="{}" x="0" y="0" width="{}" height="{}" preserveAspectRatio="none"/>"#,
        svg::num(w),
        svg::num(h),
        svg::num(dw),
        svg::num(dh),
        t.frame,
        base64::data_uri("image/jpeg", &t.jpeg),
        svg::num(w),
        svg::num(h)
    );
    if let Some((win, r)) = pred {
        let wh = win.height(r);
        let (x, y, ww) = (svg::num(win.x), svg::num(win.y), svg::num(win.w));
        let _ = write!(s, r##"<path d="M0 0H{0}V{1}H0Z M{x} {y}h{ww}v{2}h-{ww}Z" fill="#000" fill-opacity="0.5" fill-rule="evenodd"/>"##, svg::num(w), svg::num(h), svg::num(wh));
        // A dark halo under each outline keeps it visible on any picture, bright or blue.
        let _ = write!(s, r##"<rect x="{x}" y="{y}" width="{ww}" height="{}" fill="none" stroke="#000" stroke-opacity="0.7" stroke-width="5" vector-effect="non-scaling-stroke"/>"##, svg::num(wh));
        let _ = write!(s, r##"<rect class="pred" x="{x}" y="{y}" width="{ww}" height="{}" fill="none" stroke="#4dabf7" stroke-width="3" vector-effect="non-scaling-stroke"/>"##, svg::num(wh));
    }
    if let Some((win, r)) = truth {
        let (x, y, ww, wh) = (svg::num(win.x), svg::num(win.y), svg::num(win.w), svg::num(win.height(r)));
        let _ = write!(s, r##"<rect x="{x}" y="{y}" width="{ww}" height="{wh}" fill="none" stroke="#000" stroke-opacity="0.7" stroke-width="4.5" stroke-dasharray="6 4" vector-effect="non-scaling-stroke"/>"##);
        let _ = write!(s, r##"<rect class="gt" x="{x}" y="{y}" width="{ww}" height="{wh}" fill="none" stroke="#69db7c" stroke-width="2.5" stroke-dasharray="6 4" vector-effect="non-scaling-stroke"/>"##);
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::VideoScore;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(escape(r#"<a href="x">Tom & 'Jerry'</a>"#), "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
        assert_eq!(escape("plain ü 日本"), "plain ü 日本");
        assert_eq!(escape("&amp;"), "&amp;amp;", "escaping is not idempotent: text is text");
    }

    fn hostile_section(analysis: Result<Analysis, String>) -> Section {
        let ratio = AspectRatio::new(9, 16);
        Section {
            video_id: "<script>alert(1)</script>".into(),
            source: "/v/\"quoted\".mp4".into(),
            ratio,
            entries: 1,
            selected: vec![Prediction { frame: 1, window: Window { x: 10.0, y: 0.0, w: 50.0 } }],
            truth: ratio.map(|r| (vec![Prediction { frame: 1, window: Window { x: 0.0, y: 0.0, w: 50.0 } }], r)),
            gt_given: true,
            score: Some(VideoScore { video_id: "x".into(), f: 0.5, n_pred: 1, n_gt: 1, s: 0.5, matched: 1, temporal_f: 1.0, crop_iou: 0.5 }),
            analysis,
            thumbs: Ok(vec![Thumb { frame: 1, width: 4, height: 2, jpeg: vec![1, 2, 3] }]),
            short: Short::Unreadable("<b>bad</b>".into()),
        }
    }

    #[test]
    fn page_escapes_every_input_string() {
        let a = Analysis { width: 160, height: 90, frames: 3, fps: 25.0, p: vec![0.1, 0.9, 0.2], cuts: vec![], shots: 1, modes: vec![("tracking".into(), 1)], engine_selected: 1, seconds: 0.1 };
        let r = Report {
            input: "in<dex>".into(),
            predictions: "p&q.jsonl".into(),
            gt: Some("g\"t".into()),
            sections: vec![hostile_section(Ok(a)), hostile_section(Err("boom <img src=x onerror=alert(1)>".into()))],
            unmatched_lines: 0,
            gt_not_reported: 0,
        };
        let page = page(&r);
        for raw in ["<script>", "<img", "<b>bad", "in<dex>", "p&q", "g\"t", "\"quoted\""] {
            assert!(!page.contains(raw), "unescaped {raw:?}");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("data:image/jpeg;base64,AQID"));
        assert!(page.contains(r#"class="pred" x="10" y="0" width="50" height="88.89""#));
        assert!(page.contains(r#"class="gt" x="0""#));
        assert!(page.contains("<b>0.500</b>"), "per-video F in the summary");
        assert!(page.contains("score <b>50.00</b>"));
        assert!(!page.contains("<script"), "no script at all");
    }

    #[test]
    fn thumbnail_keeps_the_source_aspect() {
        assert_eq!(display_size(640, 360), (270.0, 151.875));
        let (w, h) = display_size(360, 640);
        assert!((h - 160.0).abs() < 1e-9 && (w - 90.0).abs() < 1e-9);
    }
}
