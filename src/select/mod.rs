//! Which frames make the highlight.
//!
//! 1. [`evidence`]: per frame, the probability it is keepable content (not black, frozen,
//!    blurred, a flat graphic, noise or a drawing), times an interest factor that favours
//!    action.
//! 2. Segments: the probabilities are median-smoothed, thresholded, short gaps closed and
//!    short runs dropped, so the selection does not flicker; a shot that is nearly all kept
//!    is kept whole.
//! 3. How much to keep is decided with the metric (SPEC.md section 4): segments are added,
//!    best first, only while they raise the expected F, `2·Σq / (k + N̂)`, where `q` is a
//!    frame's chance of being a highlight times its expected crop IoU and `N̂ = Σp` the
//!    expected number of highlight frames.

pub mod evidence;
pub mod scenes;
pub mod scorer;

use crate::analyse::FrameFeatures;
use evidence::{Evidence, EvidenceParams};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelectParams {
    pub evidence: EvidenceParams,
    /// Median smoothing of the keep probability, seconds.
    pub smooth_s: f64,
    /// Shortest segment kept, seconds.
    pub min_segment_s: f64,
    /// Gaps shorter than this between kept runs are closed, seconds.
    pub max_gap_s: f64,
    /// A shot whose frames are kept to at least this share is kept whole.
    pub whole_shot_share: f64,
    /// How much action raises interest (see [`interest`]).
    pub action_weight: f64,
    /// How much a detected face or person (confidence × size) raises interest.
    pub subject_weight: f64,
    /// How much an excited audience (applause, cheering, crowd, laughter) raises interest.
    pub excitement_weight: f64,
    /// How much speech raises interest.
    pub speech_weight: f64,
    /// Who judges a frame when the learned scorer ran (see [`Judge`]).
    pub judge: Judge,
    /// With the scorer: a footage shot whose subject moves against the scenery at less than
    /// this share of the most active sure footage shot's speed has its probability lowered
    /// by the square of the shortfall (0 turns it off). See [`activity_gate`].
    pub activity_ratio: f64,
    /// With the scorer: subject speed against the scenery (picture diagonals per second) at
    /// which a subject is active whatever else the video shows; the activity gate's reference
    /// is the most active sure footage shot's speed but never more than this (0: no cap). See
    /// [`activity_gate`].
    pub active_speed: f64,
    /// With the scorer: a sure footage shot whose subject moves faster against the scenery
    /// than another sure footage shot's is at least as probable a highlight. See
    /// [`activity_order`].
    pub activity_order: bool,
    /// With the scorer, when no frame reaches a first-stage probability of 0.5: the shot that
    /// looks most like live footage is still kept whole if its mean first-stage probability
    /// reaches this floor (0 turns it off). See [`unfamiliar_footage`].
    pub footage_floor: f64,
    /// With the scorer: a shot of at least half a second that holds footage (some frame's
    /// first-stage probability ≥ 0.5) and whose mean first-stage probability reaches
    /// `footage_floor` is footage in every frame at or above the floor, so an unfamiliar
    /// recording is kept as a whole, not in the stretches the first stage happens to be sure
    /// of (see [`footage_by_shot`]). A `footage_floor` of 0 turns this off too.
    pub footage_by_shot: bool,
    /// With the scorer: consecutive sure footage shots that look alike across their cut (the
    /// largest appearance difference under this, see [`scenes`]) are one recording, decided
    /// as one: its probability shared, its activity compared with other recordings. 0 turns
    /// it off (every shot decided on its own).
    pub scene_distance: f64,
}

/// Who decides how likely a frame is to be a highlight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Judge {
    /// The filler detectors times the interest cues (the path without networks).
    Rules,
    /// The learned scorer's probability alone.
    Learned,
    /// The learned probability, vetoed where a frame is black, frozen, noise, drawn, a moved
    /// still or edgeless: the six filler detectors with absolute, physical thresholds (no
    /// light; no change beyond compression noise; a picture its predecessor does not explain;
    /// a picture with no local detail almost anywhere; a picture its past explains once
    /// rigidly moved; weak detail spread as evenly as a random field's), which no other
    /// stretch of the video can move.
    Both,
}

impl Default for SelectParams {
    fn default() -> Self {
        Self { evidence: EvidenceParams::default(), smooth_s: 0.3, min_segment_s: 0.5, max_gap_s: 0.25, whole_shot_share: 0.9, action_weight: 0.2, subject_weight: 0.1, excitement_weight: 0.15, speech_weight: 0.05, judge: Judge::Both, activity_ratio: 0.8, active_speed: 0.3, activity_order: true, footage_floor: 0.15, footage_by_shot: true, scene_distance: 0.3 }
    }
}

/// One chosen stretch of frames, with its mean scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub start: usize,
    pub end: usize,
    /// Mean probability of a highlight.
    pub p: f64,
    /// Mean expected contribution (probability × expected crop IoU).
    pub q: f64,
}

impl Segment {
    /// The frames `r` with their mean probability and mean expected contribution (a frame
    /// without a crop estimate counts 0.5).
    fn over(r: Range<usize>, prob: &[f64], crop_iou: &[f64]) -> Segment {
        let len = r.len() as f64;
        let sp: f64 = prob[r.clone()].iter().sum();
        let sq: f64 = r.clone().map(|i| prob[i] * crop_iou.get(i).copied().unwrap_or(0.5)).sum();
        Segment { start: r.start, end: r.end, p: sp / len, q: sq / len }
    }
}

/// The outcome of selection for one video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    pub segments: Vec<Segment>,
    /// The expected F of the selection, as the metric would score it.
    pub expected_f: f64,
    #[serde(skip)]
    pub evidence: Vec<Evidence>,
    /// Per-frame probability of being a highlight.
    #[serde(skip)]
    pub p: Vec<f64>,
    /// The learned scorer's first-stage probability per frame (empty when it did not run).
    #[serde(skip)]
    pub p1: Vec<f32>,
}

impl Selection {
    /// Selected frame indices, ascending.
    pub fn frames(&self) -> impl Iterator<Item = usize> + '_ {
        self.segments.iter().flat_map(|s| s.start..s.end)
    }
    pub fn len(&self) -> usize {
        self.segments.iter().map(|s| s.end - s.start).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Selects the highlight frames. `crop_iou[i]` is the expected IoU of frame i's crop
/// (1 when the window is the whole picture). `learned` is the scorer's output when it ran;
/// [`SelectParams::judge`] says how it combines with the rules.
///
/// With the scorer, a video is called empty only when nothing in it looks like live camera
/// footage (its first stage): a video of real footage in which no moment stands out still
/// gets its best moment, because calling a video empty wrongly costs a whole point.
pub fn select(features: &[FrameFeatures], shots: &[Range<usize>], crop_iou: &[f64], fps: f64, p: &SelectParams, learned: Option<&scorer::Scores>) -> Selection {
    let ev = evidence::evidence(features, shots, fps, &p.evidence);
    let learned = learned.filter(|l| l.p.len() == features.len() && l.p1.len() == features.len());
    let min_len = scorer::footage_min_len(fps);
    // With both judges, a drawn picture, a moved still or an edgeless one is no footage
    // whatever the first stage says: the one veto applied before anything here reads the
    // first stage, so such a stretch is neither lifted by the shot rule, nor a sure shot that
    // sets the activity gate's reference, nor a video's "unfamiliar footage" (see
    // `evidence::drawn`, `evidence::moved_still` and `evidence::edgeless`: scrolling credits,
    // a photograph panned over and a plasma animation, never seen in training, look like
    // footage to it; see `Evidence::filmed`). (Stage 2's relative row is
    // built from the raw first stage, as in training.)
    let first: Option<Cow<[f32]>> = learned.map(|l| {
        if p.judge == Judge::Both {
            Cow::Owned(l.p1.iter().zip(&ev).map(|(&v, e)| v * e.filmed()).collect())
        } else {
            Cow::Borrowed(&l.p1[..])
        }
    });
    let lifted: Option<Cow<[f32]>> = first.as_deref().map(|p1| if p.footage_by_shot { Cow::Owned(footage_by_shot(p1, shots, p.footage_floor as f32, min_len)) } else { Cow::Borrowed(p1) });
    // Noise is vetoed even as "unfamiliar footage": like a drawn picture, it is something the
    // first stage may never have seen that physics says is not a camera's picture (see
    // `evidence::noise`).
    let footage = learned.zip(lifted.as_deref()).filter(|_| p.judge != Judge::Rules).map(|(_, p1)| {
        p1.iter().zip(&ev).map(|(&v, e)| f64::from(if p.judge == Judge::Both { v * (1.0 - e.noise) } else { v })).collect::<Vec<f64>>()
    });
    let by_shot = learned.zip(lifted.as_deref()).zip(first.as_deref()).map(|((l, p1), first)| {
        // One recording cut by a jump is decided as one (see `scenes`): only shots the first
        // stage is sure of are joined, so a doubted stretch never rides on a recording.
        let scenes = scenes::join(features, shots, fps, p.scene_distance as f32, |s| scorer::is_footage_shot(first, s, min_len));
        let mut v = footage_shot_means(&l.p, first, p1, &scenes);
        if l.activity.len() == v.len() {
            let activity = scenes::activity_by_scene(&l.activity, &scenes);
            let footage = scorer::footage_shots(p1, &scenes, min_len);
            // Shots the first stage itself is sure of (before `footage_by_shot` lifted any):
            // only they are ranked by the activity order and set the gate's reference. A
            // stretch it doubted may be an unfamiliar recording or unfamiliar filler (scrolling
            // credits move fast): it may be gated, never lifted by its speed nor gate others.
            // Nor does a sure stretch under a second (`scorer::REFERENCE_MIN_S`) when longer
            // ones exist: a flash is no recording's speed.
            let sure = scorer::reference_shots(&scorer::footage_shots(first, &scenes, min_len), fps);
            if p.activity_order {
                activity_order(&mut v, &activity, &sure);
            }
            if p.activity_ratio > 0.0 {
                activity_gate(&mut v, &activity, &footage, &sure, p.activity_ratio, p.active_speed);
            }
        }
        v
    });
    let (prob, keep): (Vec<f64>, Vec<f64>) = match (by_shot.as_deref(), p.judge) {
        (Some(l), Judge::Learned) => (l.to_vec(), l.to_vec()),
        (Some(l), Judge::Both) => {
            let v: Vec<f64> = l.iter().zip(&ev).map(|(&q, e)| q * f64::from(e.physical())).collect();
            (v.clone(), v)
        }
        _ => {
            let interest = interest(features, p);
            (ev.iter().zip(&interest).map(|(e, i)| f64::from(e.keep) * i).collect(), ev.iter().map(|e| f64::from(e.keep)).collect())
        }
    };
    let keep_smooth = median_filter(&keep, half_window(p.smooth_s, fps));
    let mut mask: Vec<bool> = keep_smooth.iter().map(|&k| k >= 0.5).collect();
    for shot in shots {
        let kept = mask[shot.clone()].iter().filter(|&&k| k).count();
        if !shot.is_empty() && kept as f64 >= p.whole_shot_share * shot.len() as f64 {
            for i in shot.clone() {
                // Whole shot, but never a hard black frame (fades stay out) nor a drawn one.
                mask[i] = !ev[i].never_kept();
            }
        }
    }
    let min_len = ((p.min_segment_s * fps).round() as usize).max(1);
    let gap = (p.max_gap_s * fps).round() as usize;
    let segments_of = |mask: &[bool]| -> Vec<Segment> {
        close_gaps(&runs_of(mask), gap)
            .into_iter()
            .filter(|r| r.len() >= min_len)
            .map(|r| Segment::over(r, &prob, crop_iou))
            .collect()
    };
    let candidates = segments_of(&mask);
    let expected_gt: f64 = prob.iter().sum();
    let (mut segments, mut expected_f) = choose_by_expected_f(candidates, expected_gt);
    if segments.is_empty() {
        if let Some(f) = &footage {
            // Nothing stands out, but there is footage: its best stretch, then whatever else
            // pays by the expected-F rule.
            let foot_mask: Vec<bool> = median_filter(f, half_window(p.smooth_s, fps)).iter().map(|&v| v >= 0.5).collect();
            let mut foot = segments_of(&foot_mask);
            foot.sort_by(|a, b| b.q.total_cmp(&a.q));
            if !foot.is_empty() {
                let best = foot.remove(0);
                (segments, expected_f) = choose_after(best, foot, expected_gt);
            } else if let Some(r) = unfamiliar_footage(f, shots, min_len, p.footage_floor) {
                let frames: Vec<bool> = r.clone().map(|i| !ev[i].never_kept()).collect();
                let seg = runs_of(&frames).into_iter().max_by_key(|k| k.len()).map(|k| (r.start + k.start)..(r.start + k.end));
                if let Some(k) = seg {
                    // Its expected number of highlight frames: the shot's footage probability.
                    let expected: f64 = f[k.clone()].iter().sum();
                    (segments, expected_f) = choose_after(Segment::over(k, f, crop_iou), Vec::new(), expected);
                }
            }
        }
    }
    Selection { segments, expected_f, evidence: ev, p: prob, p1: Vec::new() }
}

/// The shot to keep when no frame looks like footage to the first stage (all below 0.5): the
/// one with the highest mean first-stage probability, if that mean reaches `floor` and the
/// shot is at least `min_len` frames. Why: real footage unlike anything the scorer was trained
/// on (another kind of scene, another camera) comes out under-confident, and calling a real
/// video empty costs the whole video; the held-out folds show it — the best shot of every
/// filler-only video stays below 0.14 (most below 0.03), while unfamiliar real sequences sit
/// at 0.14–0.47 with nothing else in their video above 0.07. The reference is absolute (the
/// shot's own mean probability), so no other stretch of the video moves it.
pub fn unfamiliar_footage(p1: &[f64], shots: &[Range<usize>], min_len: usize, floor: f64) -> Option<Range<usize>> {
    if floor <= 0.0 {
        return None;
    }
    shots
        .iter()
        .filter(|s| s.end <= p1.len() && s.len() >= min_len.max(1))
        .map(|s| (s, p1[s.clone()].iter().sum::<f64>() / s.len() as f64))
        .filter(|&(_, m)| m >= floor)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(s, _)| s.clone())
}

/// The learned probability with every footage frame given the mean over the frames of its shot
/// the first stage is sure of (`p1` ≥ 0.5): which recording is the highlight is decided per
/// shot (a clip is kept or dropped whole), while frames the first stage calls filler keep
/// their own. The footage frames are those of `members` ≥ 0.5: `p1` itself, or the first stage
/// after [`footage_by_shot`], whose lifted frames take the sure frames' mean rather than one
/// their own doubt drags down. A shot with no sure frame keeps its values.
pub fn footage_shot_means(p: &[f64], p1: &[f32], members: &[f32], shots: &[Range<usize>]) -> Vec<f64> {
    let mut out = p.to_vec();
    for shot in shots.iter().filter(|s| s.end <= p.len().min(p1.len()).min(members.len())) {
        let sure: Vec<usize> = shot.clone().filter(|&i| p1[i] >= 0.5).collect();
        if sure.is_empty() {
            continue;
        }
        let mean = sure.iter().map(|&i| p[i]).sum::<f64>() / sure.len() as f64;
        for i in shot.clone().filter(|&i| members[i] >= 0.5) {
            out[i] = mean;
        }
    }
    out
}

/// The first stage decided per shot: in a shot of at least `min_len` frames that holds footage
/// (a frame at 0.5 or more) and whose mean reaches `floor`, every frame at or above `floor` is
/// footage (raised to 1: decided, so when those frames are most of the shot it is a footage
/// shot that the activity order and gate compare with the others — lifted only to 0.5, a calm
/// clip the first stage doubted came into the selection yet escaped the gate). A `floor` of 0
/// turns it off (as it does [`unfamiliar_footage`]). Shots shorter than `min_len` (a flash
/// between two cuts) keep their values, as they are no footage shot either.
///
/// Why: a shot is one recording, and footage unlike anything the first stage was trained on
/// flickers between 0.2 and 0.7 through it, so frame by frame only its luckiest stretches
/// pass; filler shots sit near 0 (95 % of held-out filler shots average below 0.16). Frames
/// under the floor keep their value, so a freeze or fade joined to a clip without a cut stays
/// out. The reference is the shot's own mean: no other stretch of the video moves it.
pub fn footage_by_shot(p1: &[f32], shots: &[Range<usize>], floor: f32, min_len: usize) -> Vec<f32> {
    let mut out = p1.to_vec();
    if floor <= 0.0 {
        return out;
    }
    for shot in shots.iter().filter(|s| s.end <= p1.len() && s.len() >= min_len.max(1)) {
        let v = &p1[shot.clone()];
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        if mean >= f64::from(floor) && v.iter().any(|&x| x >= 0.5) {
            for x in &mut out[shot.clone()] {
                if *x >= floor {
                    *x = 1.0;
                }
            }
        }
    }
    out
}

/// Raises each footage shot's mean probability to at least that of every less active footage
/// shot of the video (`footage`: [`scorer::footage_shots`]). Which real moment is the highlight
/// is decided by how fast its subject moves against the scenery, so the learned probability
/// must not rank a calmer clip above a more active one; where it does (a calm clip it finds
/// familiar next to an active one it does not), the active clip is lifted, never the calm one
/// lowered (the gate does that, by its own rule). [`select`] passes the shots the first stage
/// is sure of, not those the shot rule lifted: a fast stretch it doubts may be filler it never
/// saw (scrolling credits), and ranked by its speed it would be raised to the recording's level.
pub fn activity_order(prob: &mut [f64], activity: &[f64], footage: &[&Range<usize>]) {
    let mut footage = within(footage, prob.len().min(activity.len()));
    if footage.len() < 2 {
        return;
    }
    footage.sort_by(|a, b| activity[a.start].total_cmp(&activity[b.start]));
    let mut best_below = f64::NEG_INFINITY;
    for s in footage {
        let mean = prob[s.clone()].iter().sum::<f64>() / s.len() as f64;
        if best_below > mean {
            // Raised by the difference, so frames the first stage calls filler inside the
            // shot keep their lower value relative to the footage.
            let lift = best_below - mean;
            for v in &mut prob[s.clone()] {
                *v = (*v + lift).min(1.0);
            }
        }
        best_below = best_below.max(mean);
    }
}

/// Lowers the probability of footage shots that are calm next to the video's most active
/// footage: which real moment is the highlight is the one whose subject moves fastest against
/// the scenery (physical units, diagonals per second, so the reference is the video's own
/// most active real shot, never a filler stretch). `footage` are the shots that may be
/// lowered ([`scorer::footage_shots`] after [`footage_by_shot`]); `references` the ones whose
/// speed may set the reference: shots the first stage itself is sure of (mean ≥ 0.5 before
/// any lift, at least half a second long). Why two lists: a shot the first stage doubts may
/// be filler it has never seen (scrolling credits move fast), and as the reference it would
/// make the real recording of a single-clip video look calm and drop it whole. A shot at share
/// `s` of the reference speed, below `ratio`, keeps `(s / ratio)²` of its probability. One
/// footage shot alone is never lowered, nor is any when no shot is a reference.
///
/// The reference is capped at `active_speed` (when above 0): a subject moving that fast
/// against the scenery is active in absolute terms, so a faster clip elsewhere in the video
/// cannot make it calm (the annotation rule is absolute too: a sequence is active or calm by
/// its own speed, not by its neighbours').
pub fn activity_gate(prob: &mut [f64], activity: &[f64], footage: &[&Range<usize>], references: &[&Range<usize>], ratio: f64, active_speed: f64) {
    let n = prob.len().min(activity.len());
    let footage = within(footage, n);
    if footage.len() < 2 {
        return;
    }
    let fastest = within(references, n).iter().map(|s| activity[s.start]).fold(0.0f64, f64::max);
    let reference = if active_speed > 0.0 { fastest.min(active_speed) } else { fastest };
    if reference <= 0.0 {
        return;
    }
    for s in footage {
        let share = (activity[s.start] / reference).min(1.0);
        if share < ratio {
            let factor = (share / ratio).powi(2);
            for v in &mut prob[s.clone()] {
                *v *= factor;
            }
        }
    }
}

/// The shots of `footage` that lie inside the first `n` frames and are not empty: the ones
/// the activity order and gate may index.
fn within<'a>(footage: &[&'a Range<usize>], n: usize) -> Vec<&'a Range<usize>> {
    footage.iter().copied().filter(|s| s.end <= n && !s.is_empty()).collect()
}

fn half_window(seconds: f64, fps: f64) -> usize {
    (seconds * fps / 2.0).round() as usize
}

/// How interesting each frame is, in `[1 − W, 1]`; multiplies the keep probability.
///
/// No highlight labels exist to learn weights from, so the cues are combined as independent
/// pieces of evidence, each able to lower a frame's interest by at most its weight `w_c`:
/// `interest = 1 − Σ w_c · (1 − r_c)`, with every `r_c ∈ [0, 1]`:
/// - action: the frame's rank of motion against the camera within the video (relative: what
///   counts as action depends on the footage);
/// - subject: the networks' face/person cue, confidence × size (absolute);
/// - excitement and speech: YAMNet's probabilities (absolute: applause is applause).
///
/// A cue the video does not have (networks off, no audio track) is left out rather than
/// counted as absent, so the interest of a silent video does not drop as a whole, which
/// would shift the expected number of highlight frames.
fn interest(features: &[FrameFeatures], p: &SelectParams) -> Vec<f64> {
    let mut a: Vec<f32> = features.iter().map(|f| f.action).collect();
    a.sort_by(|x, y| x.total_cmp(y));
    let n = a.len();
    let has_subjects = features.iter().any(|f| f.subject_size > 0.0);
    let has_audio = features.iter().any(|f| f.excitement > 0.0 || f.speech > 0.0);
    features
        .iter()
        .map(|f| {
            let rank = if n > 1 { a.partition_point(|&v| v < f.action) as f64 / (n - 1) as f64 } else { 1.0 };
            let mut loss = p.action_weight * (1.0 - rank.clamp(0.0, 1.0));
            if has_subjects {
                loss += p.subject_weight * (1.0 - f64::from(f.subject_size).clamp(0.0, 1.0));
            }
            if has_audio {
                loss += p.excitement_weight * (1.0 - f64::from(f.excitement).clamp(0.0, 1.0));
                loss += p.speech_weight * (1.0 - f64::from(f.speech).clamp(0.0, 1.0));
            }
            (1.0 - loss).clamp(0.0, 1.0)
        })
        .collect()
}

/// Adds segments in order of their expected contribution per frame while each raises the
/// expected F `2·Σq / (k + N̂)`. Returns them in time order with the final expected F.
pub fn choose_by_expected_f(candidates: Vec<Segment>, expected_gt: f64) -> (Vec<Segment>, f64) {
    greedy(Vec::new(), candidates, expected_gt)
}

/// [`choose_by_expected_f`] that starts from `first`, chosen whatever it does to the F.
pub fn choose_after(first: Segment, rest: Vec<Segment>, expected_gt: f64) -> (Vec<Segment>, f64) {
    greedy(vec![first], rest, expected_gt)
}

fn greedy(mut chosen: Vec<Segment>, mut candidates: Vec<Segment>, expected_gt: f64) -> (Vec<Segment>, f64) {
    candidates.sort_by(|a, b| b.q.total_cmp(&a.q));
    let len = |s: &Segment| (s.end - s.start) as f64;
    let mut sum_q: f64 = chosen.iter().map(|s| s.q * len(s)).sum();
    let mut k: f64 = chosen.iter().map(len).sum();
    let mut f = if chosen.is_empty() { 0.0 } else { 2.0 * sum_q / (k + expected_gt).max(1e-9) };
    for s in candidates {
        let nf = 2.0 * (sum_q + s.q * len(&s)) / (k + len(&s) + expected_gt);
        if nf > f {
            sum_q += s.q * len(&s);
            k += len(&s);
            f = nf;
            chosen.push(s);
        }
    }
    chosen.sort_by_key(|s| s.start);
    (chosen, f)
}

/// Numbers ordered totally (`total_cmp`), for [`upper_median`].
pub trait TotalOrder: Copy {
    fn total_order(&self, other: &Self) -> std::cmp::Ordering;
}

impl TotalOrder for f32 {
    fn total_order(&self, other: &Self) -> std::cmp::Ordering {
        self.total_cmp(other)
    }
}

impl TotalOrder for f64 {
    fn total_order(&self, other: &Self) -> std::cmp::Ordering {
        self.total_cmp(other)
    }
}

/// The middle value of `v` (the upper of the two for an even count), `None` when empty.
/// Reorders `v`.
pub fn upper_median<T: TotalOrder>(v: &mut [T]) -> Option<T> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(T::total_order);
    Some(v[v.len() / 2])
}

/// Median over a window of `half` frames each side.
pub fn median_filter(v: &[f64], half: usize) -> Vec<f64> {
    if half == 0 {
        return v.to_vec();
    }
    (0..v.len())
        .filter_map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(v.len());
            upper_median(&mut v[lo..hi].to_vec())
        })
        .collect()
}

/// Maximal runs of `true`.
pub fn runs_of(mask: &[bool]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &m) in mask.iter().enumerate() {
        match (m, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..mask.len());
    }
    out
}

/// Joins runs separated by fewer than `max_gap` frames.
pub fn close_gaps(runs: &[Range<usize>], max_gap: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for r in runs {
        match out.last_mut() {
            Some(last) if r.start - last.end < max_gap => last.end = r.end,
            _ => out.push(r.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seg(start: usize, end: usize, q: f64) -> Segment {
        Segment { start, end, p: q, q }
    }

    #[test]
    fn expected_f_adds_only_what_pays() {
        // Two sure segments and one doubtful one: the doubtful one would lower F.
        let (chosen, f) = choose_by_expected_f(vec![seg(0, 100, 0.9), seg(200, 300, 0.9), seg(400, 500, 0.1)], 210.0);
        assert_eq!(chosen.iter().map(|s| s.start).collect::<Vec<_>>(), vec![0, 200]);
        assert!(f > 0.8);
    }

    #[test]
    fn footage_frames_take_their_shots_mean_and_filler_keeps_its_own() {
        // Shot 0..4: three footage frames and one the first stage rejects; shot 4..6: filler.
        let p = [0.9, 0.3, 0.6, 0.05, 0.2, 0.4];
        let p1 = [0.9f32, 0.8, 0.7, 0.1, 0.2, 0.3];
        let out = footage_shot_means(&p, &p1, &p1, &[0..4, 4..6]);
        assert!(out[..3].iter().all(|&v| (v - 0.6).abs() < 1e-12), "{out:?}");
        assert_eq!(&out[3..], &[0.05, 0.2, 0.4]);
    }

    #[test]
    fn choose_after_keeps_its_first_segment_even_when_it_lowers_f() {
        // A doubtful segment alone: the plain rule would take nothing better than it, but
        // `choose_after` must keep it and still add a sure one that pays.
        let (chosen, f) = choose_after(seg(0, 100, 0.05), vec![seg(200, 300, 0.9)], 100.0);
        assert_eq!(chosen.iter().map(|s| s.start).collect::<Vec<_>>(), vec![0, 200]);
        assert!(f > 0.0 && f < 1.0);
        let (alone, _) = choose_after(seg(0, 10, 0.01), Vec::new(), 50.0);
        assert_eq!(alone.len(), 1);
    }

    #[test]
    fn activity_order_lifts_active_shots_above_calmer_ones_only() {
        // Shots: calm and likely (0.9), active and unlikely (0.3), middling (0.5), and filler
        // (first stage 0.1) that is fastest of all: the active shot is lifted to 0.9, the
        // middling one too (faster than the calm one), the calm one and the filler untouched.
        let shots = vec![0..10, 10..20, 20..30, 30..40];
        let p1: Vec<f32> = (0..40).map(|i| if i < 30 { 0.9 } else { 0.1 }).collect();
        let activity: Vec<f64> = (0..40).map(|i| [0.02, 0.5, 0.1, 3.0][i / 10]).collect();
        let mut prob: Vec<f64> = (0..40).map(|i| [0.9, 0.3, 0.5, 0.2][i / 10]).collect();
        activity_order(&mut prob, &activity, &scorer::footage_shots(&p1, &shots, 5));
        assert!(prob[..30].iter().all(|&v| (v - 0.9).abs() < 1e-12), "{prob:?}");
        assert!(prob[30..].iter().all(|&v| v == 0.2));
        // Already in order: nothing changes; one footage shot alone: nothing changes.
        let mut ordered: Vec<f64> = (0..40).map(|i| [0.2, 0.9, 0.5, 0.2][i / 10]).collect();
        let before = ordered.clone();
        activity_order(&mut ordered, &activity, &scorer::footage_shots(&p1, &shots, 5));
        assert_eq!(ordered, before);
        let mut one = vec![0.3; 10];
        activity_order(&mut one, &activity[..10], &scorer::footage_shots(&p1[..10], &[0..10], 5));
        assert!(one.iter().all(|&v| v == 0.3));
    }

    #[test]
    fn activity_gate_reference_is_capped_at_the_active_speed() {
        // A racing clip (2.0 diagonals/s) next to a clip moving at 0.15 and a still one at
        // 0.02: relative alone, the 0.15 clip is lowered; with an absolute active speed of
        // 0.3 it keeps all of its probability (0.15 / 0.3 = 0.5 ≥ 0.4) and the still one is
        // lowered by (0.02 / 0.3 / 0.4)².
        let shots = vec![0..10, 10..20, 20..30];
        let p1 = vec![0.9f32; 30];
        let activity: Vec<f64> = (0..30).map(|i| [2.0, 0.15, 0.02][i / 10]).collect();
        // Every shot is sure footage: the same list is lowered and sets the reference.
        let footage = scorer::footage_shots(&p1, &shots, 5);
        let mut relative = vec![0.8; 30];
        activity_gate(&mut relative, &activity, &footage, &footage, 0.4, 0.0);
        assert!(relative[15] < 0.1, "{}", relative[15]);
        let mut capped = vec![0.8; 30];
        activity_gate(&mut capped, &activity, &footage, &footage, 0.4, 0.3);
        assert_eq!((capped[5], capped[15]), (0.8, 0.8));
        assert!((capped[25] - 0.8 * (0.02f64 / 0.3 / 0.4).powi(2)).abs() < 1e-12, "{}", capped[25]);
        // A cap above the fastest clip changes nothing.
        let mut high = vec![0.8; 30];
        activity_gate(&mut high, &activity, &footage, &footage, 0.4, 5.0);
        assert_eq!(high, relative);
    }

    #[test]
    fn activity_gate_lowers_calm_footage_next_to_active_footage_only() {
        // Three shots: calm footage, active footage, and filler (first stage 0.1) that moves
        // fastest of all: the filler never sets the reference, the calm shot is lowered by
        // the square of its shortfall, the active one is untouched.
        let shots = vec![0..10, 10..20, 20..30];
        let p1: Vec<f32> = (0..30).map(|i| if i < 20 { 0.9 } else { 0.1 }).collect();
        let activity: Vec<f64> = (0..30).map(|i| if i < 10 { 0.1 } else if i < 20 { 1.0 } else { 5.0 }).collect();
        let footage = scorer::footage_shots(&p1, &shots, 5);
        let mut prob = vec![0.8; 30];
        activity_gate(&mut prob, &activity, &footage, &footage, 0.4, 0.0);
        assert!((prob[0] - 0.8 * (0.1f64 / 0.4).powi(2)).abs() < 1e-12, "{}", prob[0]);
        assert_eq!((prob[15], prob[25]), (0.8, 0.8));
        // A single footage shot is the video's content, however calm.
        let (whole, mut one) = ([0..20], vec![0.8; 20]);
        let alone = scorer::footage_shots(&p1[..20], &whole, 5);
        activity_gate(&mut one, &activity[..20], &alone, &alone, 0.4, 0.0);
        assert!(one.iter().all(|&v| v == 0.8));
        // Shorter than min_len, a shot does not count as footage.
        let (mut short, none) = (vec![0.8; 30], scorer::footage_shots(&p1, &shots, 11));
        activity_gate(&mut short, &activity, &none, &none, 0.4, 0.0);
        assert!(short.iter().all(|&v| v == 0.8));
    }

    #[test]
    fn activity_gate_reference_is_set_by_sure_footage_only() {
        // A single-clip video: a doubted stretch (first stage 0.3, lifted to footage by
        // `footage_by_shot`) that moves fast, such as scrolling credits the first stage never
        // saw, and a calm recording it is sure of. The doubted stretch may not set the
        // reference, so the recording keeps its probability; against a sure active clip the
        // same recording is lowered, and a doubted calm clip is still gated by it.
        let shots = vec![0..10, 10..20, 20..30];
        // One frame of each doubted stretch reaches 0.6 (shot means 0.33), so the shot rule
        // lifts them; the means stay under 0.5, so neither is sure.
        let raw: Vec<f32> = (0..30).map(|i| if i == 3 || i == 23 { 0.6 } else { [0.3, 0.95, 0.3][i / 10] }).collect();
        let lifted = footage_by_shot(&raw, &shots, 0.15, 5);
        let footage = scorer::footage_shots(&lifted, &shots, 5);
        assert_eq!(footage.len(), 3, "all three shots are footage after the lift");
        let sure = scorer::footage_shots(&raw, &shots, 5);
        assert_eq!(sure, vec![&shots[1]]);
        let activity: Vec<f64> = (0..30).map(|i| [2.0, 0.02, 0.01][i / 10]).collect();
        let mut prob = vec![0.8; 30];
        activity_gate(&mut prob, &activity, &footage, &sure, 0.8, 0.3);
        assert!(prob[..20].iter().all(|&v| v == 0.8), "{prob:?}");
        assert!((prob[25] - 0.8 * (0.5f64 / 0.8).powi(2)).abs() < 1e-12, "{}", prob[25]);
        // Nothing sure: nothing is lowered.
        let mut none = vec![0.8; 30];
        activity_gate(&mut none, &activity, &footage, &[], 0.8, 0.3);
        assert!(none.iter().all(|&v| v == 0.8));
        // The recording next to a sure active clip is lowered.
        let raw2: Vec<f32> = (0..30).map(|i| if i == 23 { 0.6 } else { [0.95, 0.95, 0.3][i / 10] }).collect();
        let mut prob2 = vec![0.8; 30];
        activity_gate(&mut prob2, &activity, &footage, &scorer::footage_shots(&raw2, &shots, 5), 0.8, 0.3);
        assert!(prob2[15] < 0.01 && prob2[5] == 0.8, "{prob2:?}");
        assert!((prob2[25] - 0.8 * (0.01f64 / 0.3 / 0.8).powi(2)).abs() < 1e-12, "{}", prob2[25]);
    }

    #[test]
    fn unfamiliar_footage_is_the_best_shot_above_the_floor() {
        let shots = vec![0..30, 30..90, 90..120, 120..124];
        let mut p1 = vec![0.01; 30];
        p1.extend(vec![0.2; 60]);
        p1.extend(vec![0.05; 30]);
        p1.extend(vec![0.9; 4]); // highest, but shorter than a footage shot may be
        assert_eq!(unfamiliar_footage(&p1, &shots, 13, 0.15), Some(30..90));
        assert_eq!(unfamiliar_footage(&p1, &shots, 13, 0.25), None, "nothing reaches the floor");
        assert_eq!(unfamiliar_footage(&p1, &shots, 13, 0.0), None, "0 turns it off");
        assert_eq!(unfamiliar_footage(&p1, &shots, 3, 0.15), Some(120..124));
    }

    /// Features of a lit, moving picture: no black or frozen veto.
    fn lit(n: usize) -> Vec<FrameFeatures> {
        (0..n).map(|_| FrameFeatures { luma_mean: 110.0, luma_std: 45.0, change: 6.0, sharpness: 20.0, ..FrameFeatures::default() }).collect()
    }

    /// Features of live footage: lit, changing, with a peak of change (not frozen) and a picture
    /// its predecessor explains (not noise), so no veto applies.
    fn live(n: usize) -> Vec<FrameFeatures> {
        (0..n).map(|_| FrameFeatures { luma_mean: 110.0, luma_std: 45.0, change: 6.0, peak_change: 30.0, sharpness: 20.0, decorrelation: 0.05, ..FrameFeatures::default() }).collect()
    }

    /// Gives `frames` the look of another recording than [`live`]'s (darker, more colourful),
    /// so that a cut to them is not joined into one scene (see [`scenes`]).
    fn elsewhere(frames: &mut [FrameFeatures]) {
        for f in frames {
            f.luma_mean = 60.0;
            f.saturation = 0.3;
        }
    }

    /// A stretch the first stage doubts: per ten frames four at 0.05, three at 0.3 and three
    /// at 0.6 (mean 0.29), so the shot rule lifts it to footage.
    fn doubted(n: usize) -> impl Iterator<Item = f32> {
        (0..n).map(|i| match i % 10 {
            0..=3 => 0.05,
            4..=6 => 0.3,
            _ => 0.6,
        })
    }

    /// 25 fps, two shots cut apart: 4 s the first stage is sure of (`sure` throughout), then
    /// 4 s it doubts ([`doubted`]); their subjects' speeds against the scenery.
    fn sure_then_doubted(sure: f32, sure_speed: f64, doubted_speed: f64) -> (Vec<Range<usize>>, Vec<f32>, Vec<f64>) {
        let p1 = std::iter::repeat(sure).take(100).chain(doubted(100)).collect();
        let activity = (0..200).map(|i| if i < 100 { sure_speed } else { doubted_speed }).collect();
        (vec![0..100, 100..200], p1, activity)
    }

    fn scores(p1: &[f32]) -> scorer::Scores {
        scorer::Scores { p1: p1.to_vec(), p: p1.iter().map(|&v| f64::from(v) * 0.9).collect(), activity: vec![0.0; p1.len()] }
    }

    #[test]
    fn a_shot_that_holds_footage_is_footage_wherever_it_reaches_the_floor() {
        // Shot 0..6: unfamiliar footage flickering around the 0.5 line, with a fade (0.02)
        // joined without a cut; shot 6..9: filler; shot 9..12: doubtful throughout, no frame
        // sure; shot 12..16: one sure frame in a shot whose mean (0.14) stays under the floor.
        let p1 = [0.3f32, 0.6, 0.2, 0.7, 0.4, 0.02, 0.0, 0.01, 0.0, 0.3, 0.4, 0.3, 0.55, 0.0, 0.0, 0.0];
        let shots = [0..6, 6..9, 9..12, 12..16];
        let out = footage_by_shot(&p1, &shots, 0.15, 1);
        assert_eq!(&out[..6], &[1.0, 1.0, 1.0, 1.0, 1.0, 0.02]);
        assert_eq!(&out[6..], &p1[6..], "filler, a shot with no sure frame and one under the floor keep their values");
        assert_eq!(footage_by_shot(&p1, &shots, 0.0, 1), p1.to_vec(), "a floor of 0 turns it off");
        assert_eq!(&footage_by_shot(&p1, &shots, 0.15, 7)[..6], &p1[..6], "a shot shorter than min_len keeps its values");
    }

    #[test]
    fn lifted_frames_take_the_mean_of_the_frames_the_first_stage_is_sure_of() {
        // Sure frames (p1 ≥ 0.5) say 0.8; the doubtful ones' own p (p1 × p2) is low only
        // because p1 is: they take the sure frames' mean, not one dragged down by their doubt.
        let p = [0.8, 0.24, 0.8, 0.1];
        let p1 = [0.9f32, 0.3, 0.9, 0.1];
        let lifted = footage_by_shot(&p1, &[0..4], 0.15, 1);
        let out = footage_shot_means(&p, &p1, &lifted, &[0..4]);
        assert!(out[..3].iter().all(|&v| (v - 0.8).abs() < 1e-12), "{out:?}");
        assert_eq!(out[3], 0.1, "under the floor: its own value");
    }

    #[test]
    fn an_unfamiliar_recording_is_kept_whole_not_in_its_sure_stretches() {
        // 25 fps: 1 s of filler, then a 6 s recording the first stage doubts (0.3) but for
        // one second it is sure of (0.7), then 1 s of filler.
        let shots = vec![0..25, 25..175, 175..200];
        let mut p1 = vec![0.0f32; 25];
        p1.extend(vec![0.3f32; 50]);
        p1.extend(vec![0.7f32; 25]);
        p1.extend(vec![0.3f32; 75]);
        p1.extend(vec![0.0f32; 25]);
        let features = live(200);
        let iou = vec![0.8; 200];
        let s = scores(&p1);
        let params = SelectParams::default();
        assert_eq!(select(&features, &shots, &iou, 25.0, &params, Some(&s)).frames().collect::<Vec<_>>(), (25..175).collect::<Vec<_>>());
        let off = SelectParams { footage_by_shot: false, ..SelectParams::default() };
        assert_eq!(select(&features, &shots, &iou, 25.0, &off, Some(&s)).frames().collect::<Vec<_>>(), (75..100).collect::<Vec<_>>(), "frame by frame: the sure second only");
    }

    #[test]
    fn a_calm_clip_the_first_stage_doubts_is_lifted_as_footage_and_then_gated() {
        // 25 fps: an active clip the first stage is sure of, then a calm clip it doubts: per
        // ten frames, four at 0.05, three at 0.3 and three at 0.6 (mean 0.29), cut apart.
        let (shots, p1, activity) = sure_then_doubted(0.9, 0.5, 0.02);
        let p: Vec<f64> = p1.iter().map(|&v| f64::from(v) * 0.9).collect();
        let min_len = scorer::footage_min_len(25.0);
        // Frame by frame it is no footage shot, so the gate would never see it; lifted to 1
        // (mean 0.62) it is one. Lifted only to the 0.5 line its mean would be 0.35.
        assert_eq!(scorer::footage_shots(&p1, &shots, min_len), vec![&shots[0]]);
        let lifted = footage_by_shot(&p1, &shots, 0.15, min_len);
        assert_eq!(scorer::footage_shots(&lifted, &shots, min_len), vec![&shots[0], &shots[1]]);
        let s = scorer::Scores { p1: p1.clone(), p, activity };
        let (features, iou) = (live(200), vec![0.8; 200]);
        let chosen = |params: &SelectParams| select(&features, &shots, &iou, 25.0, params, Some(&s)).frames().collect::<Vec<_>>();
        assert_eq!(chosen(&SelectParams::default()), (0..100).collect::<Vec<_>>(), "gated: the active clip only");
        // Lifted but not gated, its lifted frames take the sure frames' mean (0.54) and pass.
        let ungated = chosen(&SelectParams { activity_ratio: 0.0, ..SelectParams::default() });
        assert!(ungated.iter().filter(|&&i| i >= 100).count() >= 50, "{ungated:?}");
    }

    #[test]
    fn a_fast_stretch_the_first_stage_doubts_neither_gates_nor_outranks_a_sure_recording() {
        // 25 fps: a calm recording the first stage is sure of (a parked boat: 0.02 diagonals/s),
        // then a fast stretch it doubts (unseen scrolling credits: per ten frames four at 0.05,
        // three at 0.3, three at 0.6, mean 0.29; 0.5 diagonals/s) that the shot rule lifts to
        // footage. Stage 2 likes the recording (0.85 of p1) and not the stretch (0.3 of p1).
        let (shots, p1, activity) = sure_then_doubted(0.95, 0.02, 0.5);
        let p: Vec<f64> = p1.iter().enumerate().map(|(i, &v)| f64::from(v) * if i < 100 { 0.85 } else { 0.3 }).collect();
        let s = scorer::Scores { p1, p, activity };
        let (features, iou) = (live(200), vec![0.8; 200]);
        // The stretch sets no reference, so the recording is not gated; it is not ranked
        // either, so its speed does not lift it to the recording's probability.
        let chosen: Vec<usize> = select(&features, &shots, &iou, 25.0, &SelectParams::default(), Some(&s)).frames().collect();
        assert_eq!(chosen, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_sure_flash_neither_gates_nor_outranks_the_recording_beside_it() {
        // 25 fps: an 8 s recording (a face, 0.05 diagonals/s), then a 0.7 s push-in over a
        // photograph that the first stage is barely sure of (0.55) and that races (0.6
        // diagonals/s). Stage 2 gives both 0.7 of p1. Under a second, the flash sets no
        // reference, so the recording is not gated, and it is not ranked, so the recording
        // does not lift it either. (The pictures here are alike across the cut, so scenes are
        // not joined: the two would otherwise be decided as one recording.)
        let params = SelectParams { scene_distance: 0.0, ..SelectParams::default() };
        // The frames chosen when the push-in lasts `flash` frames.
        let chosen = |flash: usize| -> Vec<usize> {
            let n = 200 + flash;
            let mut p1 = vec![0.9f32; 200];
            p1.extend(vec![0.55f32; flash]);
            let p: Vec<f64> = p1.iter().map(|&v| f64::from(v) * 0.7).collect();
            let activity: Vec<f64> = (0..n).map(|i| if i < 200 { 0.05 } else { 0.6 }).collect();
            let s = scorer::Scores { p1, p, activity };
            select(&live(n), &[0..200, 200..n], &vec![0.8; n], 25.0, &params, Some(&s)).frames().collect()
        };
        let kept = chosen(18);
        assert!((0..200).all(|i| kept.contains(&i)), "the recording is kept: {} frames chosen", kept.len());
        // A recording of a second or more still sets the reference: the same push-in held for
        // 2 s gates the calm recording down.
        let gated = chosen(50);
        assert!(gated.iter().all(|&i| i >= 200), "gated by the 2 s clip: {gated:?}");
    }

    #[test]
    fn a_video_whose_footage_the_first_stage_doubts_keeps_its_best_shot_not_nothing() {
        // 25 fps: 1 s of filler, 3 s the first stage gives 0.2, 1 s of filler.
        let shots = vec![0..25, 25..100, 100..125];
        let mut p1 = vec![0.003f32; 25];
        p1.extend(vec![0.2f32; 75]);
        p1.extend(vec![0.01f32; 25]);
        let features = lit(125);
        let iou = vec![0.8; 125];
        let params = SelectParams::default();
        let sel = select(&features, &shots, &iou, 25.0, &params, Some(&scores(&p1)));
        assert_eq!(sel.frames().collect::<Vec<_>>(), (25..100).collect::<Vec<_>>());
        // Off: the video is called empty, as before the floor.
        let off = SelectParams { footage_floor: 0.0, ..SelectParams::default() };
        assert!(select(&features, &shots, &iou, 25.0, &off, Some(&scores(&p1))).is_empty());
        // A filler-only video (best shot 0.02) stays empty.
        let filler = vec![0.02f32; 125];
        assert!(select(&features, &shots, &iou, 25.0, &params, Some(&scores(&filler))).is_empty());
    }

    #[test]
    fn noise_the_scorer_takes_for_footage_is_vetoed_under_both_judges_only() {
        // 25 fps: 3 s of real footage, then 2 s of static the first stage rates higher still.
        let shots = vec![0..75, 75..125];
        let mut features = live(125);
        for f in &mut features[75..] {
            f.decorrelation = 0.7;
        }
        let iou = vec![0.8; 125];
        let mut p1 = vec![0.7f32; 75];
        p1.extend(vec![0.9f32; 50]);
        let both = select(&features, &shots, &iou, 25.0, &SelectParams::default(), Some(&scores(&p1)));
        assert!(!both.is_empty() && both.frames().all(|i| i < 75), "{:?}", both.frames().collect::<Vec<_>>());
        // The learned judge alone has no veto: it keeps the static it rates highest.
        let learned = SelectParams { judge: Judge::Learned, ..SelectParams::default() };
        assert!(select(&features, &shots, &iou, 25.0, &learned, Some(&scores(&p1))).frames().any(|i| i >= 75));
        // Nor is static the "unfamiliar footage" of a video whose real footage the scorer doubts:
        // the doubted footage is kept, the static is not.
        let mut doubted = vec![0.2f32; 75];
        doubted.extend(vec![0.4f32; 50]);
        let sel = select(&features, &shots, &iou, 25.0, &SelectParams::default(), Some(&scores(&doubted)));
        assert_eq!(sel.frames().collect::<Vec<_>>(), (0..75).collect::<Vec<_>>());
        // A video of static alone is answered empty.
        let alone = vec![0.9f32; 50];
        assert!(select(&features[75..], &[0..50], &iou[75..], 25.0, &SelectParams::default(), Some(&scores(&alone))).is_empty());
    }

    #[test]
    fn a_drawn_stretch_the_first_stage_is_sure_of_is_vetoed_before_it_is_read() {
        // 25 fps: a calm recording (0.02 diagonals/s), then scrolling credits the first stage
        // has never seen and is sure of (0.9: moving, lit), moving at 0.5 diagonals/s. Read
        // as footage, the credits would be kept and, as the fastest sure shot, gate the
        // recording out whole; drawn (97 % of the picture flat), they are neither.
        let shots = vec![0..100, 100..200];
        let mut features = live(200);
        elsewhere(&mut features[100..]);
        for f in &mut features[100..] {
            f.flat_share = 0.97;
        }
        let p1 = vec![0.9f32; 200];
        let activity: Vec<f64> = (0..200).map(|i| if i < 100 { 0.02 } else { 0.5 }).collect();
        let s = scorer::Scores { p: p1.iter().map(|&v| f64::from(v) * 0.8).collect(), p1, activity };
        let iou = vec![0.8; 200];
        let chosen = |params: &SelectParams, features: &[FrameFeatures]| select(features, &shots, &iou, 25.0, params, Some(&s)).frames().collect::<Vec<_>>();
        assert_eq!(chosen(&SelectParams::default(), &features), (0..100).collect::<Vec<_>>());
        // With the detector off, the credits gate the recording and are all that is kept.
        let off = SelectParams { evidence: EvidenceParams { drawn_flat_share: 2.0, ..EvidenceParams::default() }, ..SelectParams::default() };
        assert_eq!(chosen(&off, &features), (100..200).collect::<Vec<_>>());
        // A video of the credits alone is answered empty, also just over the threshold (0.96:
        // a 0.73 chance of being drawn), where the first stage merely scaled by the chance of
        // being filmed (0.24) would clear the footage floor as "unfamiliar footage".
        for flat in [0.96f32, 0.97, 1.0] {
            let mut credits = live(100);
            for f in &mut credits {
                f.flat_share = flat;
            }
            let alone = scorer::Scores { p1: vec![0.9; 100], p: vec![0.72; 100], activity: vec![0.5; 100] };
            let sel = select(&credits, &[0..100], &iou[100..], 25.0, &SelectParams::default(), Some(&alone));
            assert!(sel.is_empty(), "{flat}: {:?}", sel.frames().collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_moved_still_the_first_stage_is_sure_of_is_vetoed_before_it_is_read() {
        // 25 fps: a calm recording (a living scene: 2–4 px left unexplained half a second on),
        // then a photograph panned over (0.4–0.6 px), which the first stage has never seen and
        // takes for footage (0.9), panning at 0.3 diagonals/s. Read as footage it would be kept
        // and, as the fastest sure shot, gate the recording out whole.
        let shots = vec![0..100, 100..200];
        let mut features = live(200);
        elsewhere(&mut features[100..]);
        for (i, f) in features.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
            f.rigid_residual = Some(if i < 100 { 2.0 + (i % 5) as f32 * 0.5 } else { 0.4 + (i % 3) as f32 * 0.1 });
        }
        let p1 = vec![0.9f32; 200];
        let activity: Vec<f64> = (0..200).map(|i| if i < 100 { 0.02 } else { 0.3 }).collect();
        let s = scorer::Scores { p: p1.iter().map(|&v| f64::from(v) * 0.8).collect(), p1, activity };
        let iou = vec![0.8; 200];
        let chosen = |params: &SelectParams, features: &[FrameFeatures]| select(features, &shots, &iou, 25.0, params, Some(&s)).frames().collect::<Vec<_>>();
        assert_eq!(chosen(&SelectParams::default(), &features), (0..100).collect::<Vec<_>>());
        let off = SelectParams { evidence: EvidenceParams { still_residual: 0.0, ..EvidenceParams::default() }, ..SelectParams::default() };
        assert_eq!(chosen(&off, &features), (100..200).collect::<Vec<_>>());
        // The pan alone is answered empty: not "unfamiliar footage" either.
        let alone = scorer::Scores { p1: vec![0.9; 100], p: vec![0.72; 100], activity: vec![0.3; 100] };
        assert!(select(&features[100..], &[0..100], &iou[100..], 25.0, &SelectParams::default(), Some(&alone)).is_empty());
    }

    #[test]
    fn by_default_a_clip_at_half_the_active_clips_speed_is_not_the_highlight() {
        // 25 fps compilation: a 3 s clip whose subject crosses 0.3 diagonals a second, then a
        // 3 s clip at 0.15, both sure footage the scorer rates alike. Our speeds of calm clips
        // read 0.4–0.6 of the active clip's (the subject estimate's jitter is a floor under
        // every speed): the default gate (0.8) drops the slower one, the old 0.4 kept both.
        let shots = vec![0..75, 75..150];
        let mut features = live(150);
        elsewhere(&mut features[75..]);
        let iou = vec![0.8; 150];
        let mut s = scores(&[0.95f32; 150]);
        s.activity = [vec![0.3; 75], vec![0.15; 75]].concat();
        let sel = select(&features, &shots, &iou, 25.0, &SelectParams::default(), Some(&s));
        assert_eq!(sel.frames().collect::<Vec<_>>(), (0..75).collect::<Vec<_>>());
        let old = SelectParams { activity_ratio: 0.4, ..SelectParams::default() };
        assert_eq!(select(&features, &shots, &iou, 25.0, &old, Some(&s)).frames().count(), 150);
        // A clip as fast as the cap (0.24 = 0.8 × 0.3 diagonals a second) is active in its own
        // right, however fast the other one is.
        s.activity = [vec![0.9; 75], vec![0.25; 75]].concat();
        assert_eq!(select(&features, &shots, &iou, 25.0, &SelectParams::default(), Some(&s)).frames().count(), 150);
    }

    #[test]
    fn one_recording_cut_in_two_by_a_jump_is_kept_whole_and_two_recordings_are_not() {
        // 25 fps: one recording of 6 s that the shot detector cut at 3 s (a flash, a whip of
        // the camera), its second half calmer and rated lower by the scorer.
        let shots = vec![0..75, 75..150];
        let features = live(150);
        let iou = vec![0.8; 150];
        let mut s = scores(&[0.95f32; 150]);
        s.p = [vec![0.9; 75], vec![0.45; 75]].concat();
        s.activity = [vec![0.2; 75], vec![0.08; 75]].concat();
        let chosen = |params: &SelectParams, features: &[FrameFeatures]| select(features, &shots, &iou, 25.0, params, Some(&s)).frames().count();
        assert_eq!(chosen(&SelectParams::default(), &features), 150);
        // Decided shot by shot, the calmer half is gated against the livelier one and dropped.
        assert_eq!(chosen(&SelectParams { scene_distance: 0.0, ..SelectParams::default() }, &features), 75);
        // A cut to other footage (darker, more colourful) is two recordings, judged apart.
        let mut other = features.clone();
        elsewhere(&mut other[75..]);
        assert_eq!(chosen(&SelectParams::default(), &other), 75);
    }

    #[test]
    fn a_joined_recording_is_as_active_as_most_of_it_against_other_footage() {
        // 25 fps: one recording cut by a jump, 1.6 s nearly still (0.02 diagonals/s) then 2.4 s
        // lively (0.2), then other footage at 0.1. The recording is as active as most of its
        // time (0.2), so the other clip, at half its speed, is the one gated; read by its first
        // shot (0.02), the recording would have been gated out whole instead.
        let shots = vec![0..40, 40..100, 100..150];
        let mut features = live(150);
        elsewhere(&mut features[100..]);
        let iou = vec![0.8; 150];
        let mut s = scores(&[0.95f32; 150]);
        s.activity = [vec![0.02; 40], vec![0.2; 60], vec![0.1; 50]].concat();
        let sel = select(&features, &shots, &iou, 25.0, &SelectParams::default(), Some(&s));
        assert_eq!(sel.frames().collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn nothing_to_choose_gives_empty() {
        let (chosen, f) = choose_by_expected_f(Vec::new(), 3.0);
        assert!(chosen.is_empty());
        assert_eq!(f, 0.0);
    }

    #[test]
    fn the_upper_median_is_the_middle_or_the_higher_middle_value() {
        assert_eq!(upper_median(&mut [3.0f32, 1.0, 2.0]), Some(2.0));
        assert_eq!(upper_median(&mut [4.0f64, 1.0, 3.0, 2.0]), Some(3.0));
        assert_eq!(upper_median::<f32>(&mut []), None);
    }

    #[test]
    fn gaps_and_runs() {
        let mask = [true, true, false, true, false, false, false, true];
        assert_eq!(runs_of(&mask), vec![0..2, 3..4, 7..8]);
        assert_eq!(close_gaps(&runs_of(&mask), 2), vec![0..4, 7..8]);
    }

    proptest! {
        #[test]
        fn chosen_segments_are_disjoint_sorted_and_raise_f(
            qs in proptest::collection::vec(0.0f64..1.0, 0..20), gt in 0.0f64..500.0,
        ) {
            let cands: Vec<Segment> = qs.iter().enumerate().map(|(i, &q)| seg(i * 20, i * 20 + 10, q)).collect();
            let (chosen, f) = choose_by_expected_f(cands, gt);
            prop_assert!(chosen.windows(2).all(|w| w[0].end <= w[1].start));
            prop_assert!((0.0..=2.0).contains(&f));
            // Every chosen segment is at least half as good as the final F (the F/2 rule).
            for s in &chosen {
                prop_assert!(s.q >= f / 2.0 - 1e-9);
            }
        }

        #[test]
        fn activity_order_never_lowers_and_leaves_footage_in_activity_order(
            shots in proptest::collection::vec((0.0f64..1.0, 0.0f64..2.0, any::<bool>()), 1..8),
        ) {
            // Shots of 10 frames: probability, activity, footage or not (first stage 0.9 / 0.1).
            let ranges: Vec<Range<usize>> = (0..shots.len()).map(|i| i * 10..(i + 1) * 10).collect();
            let expand = |f: &dyn Fn(&(f64, f64, bool)) -> f64| -> Vec<f64> { shots.iter().flat_map(|s| [f(s); 10]).collect() };
            let mut prob = expand(&|s| s.0);
            let before = prob.clone();
            let activity = expand(&|s| s.1);
            let p1: Vec<f32> = expand(&|s| if s.2 { 0.9 } else { 0.1 }).iter().map(|&v| v as f32).collect();
            activity_order(&mut prob, &activity, &scorer::footage_shots(&p1, &ranges, 5));
            prop_assert!(prob.iter().zip(&before).all(|(a, b)| a >= b && *a <= 1.0));
            let mut footage: Vec<(f64, f64)> = shots.iter().enumerate().filter(|(_, s)| s.2).map(|(i, s)| (s.1, prob[i * 10])).collect();
            footage.sort_by(|a, b| a.0.total_cmp(&b.0));
            for w in footage.windows(2) {
                prop_assert!(w[0].0 == w[1].0 || w[1].1 >= w[0].1 - 1e-12, "{footage:?}");
            }
            // Filler shots are never touched.
            for (i, s) in shots.iter().enumerate().filter(|(_, s)| !s.2) {
                prop_assert_eq!(prob[i * 10], s.0);
            }
        }

        #[test]
        fn footage_by_shot_only_raises_to_one_and_is_idempotent(
            p1 in proptest::collection::vec(0.0f32..1.0, 1..60), cuts in proptest::collection::vec(1usize..60, 0..4), floor in 0.0f32..1.0, min_len in 1usize..6,
        ) {
            let mut bounds: Vec<usize> = cuts.into_iter().filter(|&c| c < p1.len()).collect();
            bounds.extend([0, p1.len()]);
            bounds.sort_unstable();
            bounds.dedup();
            let shots: Vec<Range<usize>> = bounds.windows(2).map(|w| w[0]..w[1]).collect();
            let out = footage_by_shot(&p1, &shots, floor, min_len);
            for (i, (&a, &b)) in out.iter().zip(&p1).enumerate() {
                // Never lowered; changed only to 1, and only at or above the floor.
                prop_assert!(a >= b, "frame {i}");
                prop_assert!(a == b || (a == 1.0 && b >= floor), "frame {i}: {b} -> {a}");
            }
            for s in &shots {
                let v = &p1[s.clone()];
                let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
                if floor > 0.0 && s.len() >= min_len && mean >= f64::from(floor) && v.iter().any(|&x| x >= 0.5) {
                    // Lifted: every frame at or above the floor is 1, the others as they were.
                    for i in s.clone() {
                        prop_assert_eq!(out[i], if p1[i] >= floor { 1.0 } else { p1[i] }, "frame {}", i);
                    }
                } else {
                    prop_assert_eq!(&out[s.clone()], v, "a shot that does not qualify is untouched");
                }
            }
            prop_assert_eq!(footage_by_shot(&out, &shots, floor, min_len), out.clone());
        }

        #[test]
        fn median_filter_keeps_length_and_range(v in proptest::collection::vec(0.0f64..1.0, 0..100), h in 0usize..10) {
            let m = median_filter(&v, h);
            prop_assert_eq!(m.len(), v.len());
            prop_assert!(m.iter().all(|x| (0.0..=1.0).contains(x)));
        }
    }
}
