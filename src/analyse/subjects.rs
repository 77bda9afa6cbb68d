//! One subject per frame from what the networks saw, fused as AutoFlip does: faces first,
//! then people, then text, then the saliency map; the classical motion/spectral saliency of
//! [`super::saliency`] remains for frames and shots the networks say nothing about.
//!
//! "Most important" is a product of plain factors, each with a reason:
//! - the kind's weight (a face is what a viewer looks at first, a person next, text last);
//! - the detector's confidence;
//! - the square root of the box area (a larger subject is nearer and more central to the
//!   shot; the root keeps one huge box from always beating a close, confident face);
//! - how salient the box is on the saliency map, when there is one (of two people, the one
//!   the video-saliency network looks at, usually the one that moves);
//! - continuity with the previous choice (a camera that jumps between two people every
//!   sample is worse than one that stays on either).
//!
//! When several subjects do not fit in the window, only the most important is framed: the
//! box centre, never the middle between subjects.
//!
//! Framing aims with one more cue than selection reads: the saliency map weighed by where the
//! scene moves against its background ([`weigh_by_motion`]). A viewer-fixation network learns
//! where people look in general (the centre, a bright or odd patch, the vanishing point of a
//! road); what a camera operator follows is what moves. And framing follows only the boxes the
//! detector is sure of and that are of some size ([`for_aim`]); weaker ones give way to that
//! weighed map. Selection keeps the plain map's subject and every box, so its speeds and the
//! scorer's inputs do not change with the aim.

use super::image::Plane;
use super::nets::{Detection, FrameDetections, SaliencyMap};
use serde::{Deserialize, Serialize};

/// What the framed subject is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Face,
    Person,
    Text,
    /// The saliency map's centre of mass.
    Saliency,
}

/// The subject of one frame, in picture fractions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Subject {
    pub x: f32,
    pub y: f32,
    /// How sure, 0–1: the path planner's weight for this frame.
    pub evidence: f32,
    pub kind: SubjectKind,
    /// Share of the picture the subject's box covers (0 for saliency).
    pub area: f32,
}

/// Tuning of the fusion; see `configs/highlightd.toml` `[subjects]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubjectParams {
    pub face_weight: f32,
    pub person_weight: f32,
    pub text_weight: f32,
    /// Continuity: distance (picture fractions) at which a candidate's bonus for being near
    /// the previous subject has fallen to 1/e^½.
    pub continuity: f32,
    /// Saliency maps whose mass is spread more than this (0 = a point, 1 = uniform) give no
    /// subject.
    pub max_saliency_spread: f32,
    /// Text becomes a subject only when the text boxes together cover at least this share of
    /// the picture: slides and screen recordings are mostly text; a sign, a logo or a shirt
    /// number in a street scene is not what the shot is about.
    pub min_text_area: f32,
    /// The map is raised to this power before its centre of mass is taken: video-saliency
    /// networks learn the viewers' centre bias, and a higher power lets the peak, not the
    /// broad central glow, decide.
    pub saliency_power: f32,
    /// Whether framing weighs the saliency map by the scene's own motion (see
    /// [`weigh_by_motion`]).
    pub aim_by_motion: bool,
    /// The weight of a cell where nothing moves, against 1 + this where the most moves: above
    /// 0 so a still subject the map is sure of keeps its place.
    pub motion_floor: f32,
    /// With `aim_by_motion`, framing's aim follows a face, person or text box only when the
    /// detector is at least this sure of it (see [`for_aim`]).
    pub aim_box_score: f32,
    /// … and the box covers at least this share of the picture.
    pub aim_box_area: f32,
}

impl Default for SubjectParams {
    fn default() -> Self {
        Self {
            face_weight: 4.0,
            person_weight: 0.8,
            text_weight: 0.3,
            continuity: 0.2,
            max_saliency_spread: 0.8,
            min_text_area: 0.02,
            saliency_power: 6.0,
            aim_by_motion: true,
            motion_floor: 0.1,
            aim_box_score: 0.7,
            aim_box_area: 0.03,
        }
    }
}

fn centre(d: &Detection) -> (f32, f32) {
    ((d.x0 + d.x1) / 2.0, (d.y0 + d.y1) / 2.0)
}

fn area(d: &Detection) -> f32 {
    ((d.x1 - d.x0).max(0.0) * (d.y1 - d.y0).max(0.0)).clamp(0.0, 1.0)
}

/// Mean of the map inside the box (the map is normalised to a maximum of 1).
pub fn box_saliency(map: &SaliencyMap, d: &Detection) -> f32 {
    if map.width == 0 || map.height == 0 {
        return 0.0;
    }
    let (w, h) = (map.width as f32, map.height as f32);
    let x0 = ((d.x0 * w).floor().max(0.0) as usize).min(map.width - 1);
    let x1 = ((d.x1 * w).ceil() as usize).clamp(x0 + 1, map.width);
    let y0 = ((d.y0 * h).floor().max(0.0) as usize).min(map.height - 1);
    let y1 = ((d.y1 * h).ceil() as usize).clamp(y0 + 1, map.height);
    let mut sum = 0.0;
    for y in y0..y1 {
        sum += map.data[y * map.width + x0..y * map.width + x1].iter().sum::<f32>();
    }
    sum / ((x1 - x0) * (y1 - y0)) as f32
}

/// The centre of mass of the map and how concentrated it is: `spread` is the standard
/// deviation of the mass relative to that of a uniform map (0 = one point, 1 = uniform).
pub fn saliency_centre(map: &SaliencyMap, power: f32) -> Option<(f32, f32, f32)> {
    if map.width == 0 || map.height == 0 || map.data.len() != map.width * map.height {
        return None;
    }
    // A power above 1 sharpens the map towards its peak, so a faint wide background does not
    // drag the centre away from the object.
    let (mut m, mut sx, mut sy, mut sxx, mut syy) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (i, v) in map.data.iter().enumerate() {
        let v = f64::from(v.max(0.0)).powf(f64::from(power));
        let x = ((i % map.width) as f64 + 0.5) / map.width as f64;
        let y = ((i / map.width) as f64 + 0.5) / map.height as f64;
        m += v;
        sx += v * x;
        sy += v * y;
        sxx += v * x * x;
        syy += v * y * y;
    }
    if m <= 0.0 || !m.is_finite() {
        return None;
    }
    let (cx, cy) = (sx / m, sy / m);
    let var = (sxx / m - cx * cx).max(0.0) + (syy / m - cy * cy).max(0.0);
    // A uniform map on the unit square has variance 1/12 per axis.
    let spread = (var / (2.0 / 12.0)).sqrt().min(1.0);
    Some((cx as f32, cy as f32, spread as f32))
}

/// The saliency map weighed cell by cell by the scene's own motion (`motion`: a grid of any
/// size over the same picture, as [`super::rigid::RigidMotion::motion_map`] gives it):
/// `map × (floor + motion / its maximum)`, normalised to a maximum of 1 again. Relative to the
/// map's own maximum, so the camera's speed or the picture's contrast does not matter, only
/// where the motion is. A map with no motion anywhere, or of no size, is returned as it was.
pub fn weigh_by_motion(map: &SaliencyMap, motion: &Plane, floor: f32) -> SaliencyMap {
    let top = motion.data.iter().copied().filter(|v| v.is_finite()).fold(0.0f32, f32::max);
    if top <= 0.0 || motion.width == 0 || motion.height == 0 || motion.data.len() != motion.width * motion.height || map.data.len() != map.width * map.height {
        return map.clone();
    }
    let mut data = Vec::with_capacity(map.data.len());
    for (i, &v) in map.data.iter().enumerate() {
        let (x, y) = (i % map.width, i / map.width);
        let m = motion.data[(y * motion.height / map.height) * motion.width + x * motion.width / map.width];
        let m = if m.is_finite() { (m / top).clamp(0.0, 1.0) } else { 0.0 };
        data.push(v.max(0.0) * (floor.max(0.0) + m));
    }
    let peak = data.iter().copied().fold(0.0f32, f32::max);
    if peak <= 0.0 || !peak.is_finite() {
        return map.clone();
    }
    data.iter_mut().for_each(|v| *v /= peak);
    SaliencyMap { width: map.width, height: map.height, data }
}

/// The detections framing's aim may follow, with `saliency` (the frame's map, weighed by the
/// scene's motion where it can be) as their map: with `aim_by_motion`, only the boxes the
/// detector is sure of (`aim_box_score`) that cover a fair share of the picture
/// (`aim_box_area`). A weak or small box is as often a bystander, a poster or a false
/// detection as the subject, and once the map is weighed by the scene's motion it points at
/// what the camera follows more often than such a box does (README, Measured: with each set
/// left out of the choice of both numbers, five of seven sets' framing gains and none loses more
/// than 0.002 IoU). Selection keeps every box: a face is evidence that something is there even
/// where it is not what to frame. Without `aim_by_motion` every box is kept.
pub fn for_aim(d: &FrameDetections, saliency: Option<SaliencyMap>, p: &SubjectParams) -> FrameDetections {
    let sure = |v: &[Detection]| -> Vec<Detection> { v.iter().filter(|b| !p.aim_by_motion || (b.score >= p.aim_box_score && area(b) >= p.aim_box_area)).copied().collect() };
    FrameDetections { faces: sure(&d.faces), people: sure(&d.people), text: sure(&d.text), saliency }
}

/// The subject of one analysed frame, or `None` when the networks saw nothing usable.
pub fn fuse(d: &FrameDetections, prev: Option<(f32, f32)>, p: &SubjectParams) -> Option<Subject> {
    let mut best: Option<(f32, Subject)> = None;
    let kinds = [(&d.faces, SubjectKind::Face, p.face_weight), (&d.people, SubjectKind::Person, p.person_weight), (&d.text, SubjectKind::Text, p.text_weight)];
    let text_area: f32 = d.text.iter().map(area).sum();
    for (dets, kind, weight) in kinds {
        if weight <= 0.0 || (kind == SubjectKind::Text && text_area < p.min_text_area) {
            continue;
        }
        for det in dets.iter() {
            let a = area(det);
            if a <= 0.0 || !det.score.is_finite() {
                continue;
            }
            let (x, y) = centre(det);
            let mut importance = weight * det.score.clamp(0.0, 1.0) * a.sqrt();
            if let Some(map) = &d.saliency {
                importance *= 0.5 + box_saliency(map, det);
            }
            if let Some((px, py)) = prev {
                let dist2 = (x - px).powi(2) + (y - py).powi(2);
                importance *= 0.5 + (-dist2 / (2.0 * p.continuity.powi(2).max(1e-6))).exp();
            }
            let s = Subject { x, y, evidence: det.score.clamp(0.0, 1.0), kind, area: a };
            if best.as_ref().is_none_or(|(b, _)| importance > *b) {
                best = Some((importance, s));
            }
        }
    }
    if let Some((_, s)) = best {
        return Some(s);
    }
    let (x, y, spread) = saliency_centre(d.saliency.as_ref()?, p.saliency_power)?;
    (spread <= p.max_saliency_spread).then(|| Subject { x, y, evidence: (1.0 - spread / p.max_saliency_spread).clamp(0.0, 1.0), kind: SubjectKind::Saliency, area: 0.0 })
}

/// The subject cue for selection: confidence × size, saturating at a tenth of the picture
/// (a subject that large is plainly "there"); 0 for a saliency-only subject, which says where
/// to look but not that anything is there.
pub fn presence(s: &Subject) -> f32 {
    match s.kind {
        SubjectKind::Saliency => 0.0,
        _ => (s.evidence * (s.area / 0.1).sqrt().min(1.0)).clamp(0.0, 1.0),
    }
}

/// Fills every frame of `0..n` from subjects known on some frames (`samples`: frame index,
/// ascending), by linear interpolation between neighbours and holding the first and last.
/// Frames before the first or after the last sample get `None` beyond `hold` frames, so a
/// subject does not outlive its evidence by much.
pub fn interpolate(samples: &[(usize, Subject)], n: usize, hold: usize) -> Vec<Option<Subject>> {
    let mut out = vec![None; n];
    let Some(&(first, first_s)) = samples.first() else { return out };
    for (i, slot) in out.iter_mut().enumerate().take(first.min(n)) {
        if first - i <= hold {
            *slot = Some(first_s);
        }
    }
    for pair in samples.windows(2) {
        let ((a, sa), (b, sb)) = (pair[0], pair[1]);
        for i in a..b.min(n) {
            let t = (i - a) as f32 / (b - a).max(1) as f32;
            // Different kinds are not blended: the switch happens half-way.
            let v = if sa.kind == sb.kind {
                Subject {
                    x: sa.x + t * (sb.x - sa.x),
                    y: sa.y + t * (sb.y - sa.y),
                    evidence: sa.evidence + t * (sb.evidence - sa.evidence),
                    kind: sa.kind,
                    area: sa.area + t * (sb.area - sa.area),
                }
            } else if t < 0.5 {
                sa
            } else {
                sb
            };
            out[i] = Some(v);
        }
    }
    if let Some(&(last, last_s)) = samples.last() {
        for (i, slot) in out.iter_mut().enumerate().skip(last) {
            if i - last <= hold {
                *slot = Some(last_s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn det(x0: f32, y0: f32, x1: f32, y1: f32, score: f32) -> Detection {
        Detection { x0, y0, x1, y1, score }
    }

    fn frame(faces: Vec<Detection>, people: Vec<Detection>) -> FrameDetections {
        FrameDetections { faces, people, text: vec![], saliency: None }
    }

    #[test]
    fn a_face_beats_a_person_of_similar_size() {
        let d = frame(vec![det(0.1, 0.1, 0.3, 0.4, 0.9)], vec![det(0.6, 0.1, 0.8, 0.4, 0.9)]);
        let s = fuse(&d, None, &SubjectParams::default()).unwrap();
        assert_eq!(s.kind, SubjectKind::Face);
        assert!((s.x - 0.2).abs() < 1e-6 && (s.y - 0.25).abs() < 1e-6);
    }

    #[test]
    fn the_most_important_subject_is_framed_not_the_middle() {
        // Two people far apart: the larger one wins, and the position is its centre.
        let d = frame(vec![], vec![det(0.05, 0.2, 0.25, 0.9, 0.8), det(0.8, 0.5, 0.85, 0.7, 0.8)]);
        let s = fuse(&d, None, &SubjectParams::default()).unwrap();
        assert!((s.x - 0.15).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn continuity_keeps_the_previous_subject_when_close_in_importance() {
        let d = frame(vec![], vec![det(0.1, 0.2, 0.3, 0.8, 0.8), det(0.7, 0.2, 0.9, 0.8, 0.85)]);
        let p = SubjectParams::default();
        assert!((fuse(&d, None, &p).unwrap().x - 0.8).abs() < 1e-6);
        assert!((fuse(&d, Some((0.2, 0.5)), &p).unwrap().x - 0.2).abs() < 1e-6);
    }

    #[test]
    fn a_little_text_is_not_a_subject_a_slide_is() {
        let p = SubjectParams::default();
        let mut d = frame(vec![], vec![]);
        d.text = vec![det(0.8, 0.9, 0.9, 0.95, 0.9)];
        assert!(fuse(&d, None, &p).is_none());
        d.text.push(det(0.1, 0.1, 0.6, 0.3, 0.9));
        let s = fuse(&d, None, &p).unwrap();
        assert_eq!(s.kind, SubjectKind::Text);
        assert!((s.x - 0.35).abs() < 1e-6);
    }

    #[test]
    fn saliency_decides_between_two_people() {
        let mut map = SaliencyMap { width: 10, height: 10, data: vec![0.0; 100] };
        for y in 2..8 {
            map.data[y * 10 + 8] = 1.0;
        }
        let mut d = frame(vec![], vec![det(0.1, 0.2, 0.3, 0.8, 0.8), det(0.7, 0.2, 0.9, 0.8, 0.8)]);
        d.saliency = Some(map);
        assert!((fuse(&d, None, &SubjectParams::default()).unwrap().x - 0.8).abs() < 1e-6);
    }

    #[test]
    fn the_aim_follows_a_sure_sizeable_box_and_the_map_over_a_weak_or_small_one() {
        // The map is sure of something on the right; the detector sees a person on the left.
        let mut map = SaliencyMap { width: 20, height: 10, data: vec![0.0; 200] };
        map.data[5 * 20 + 16] = 1.0;
        let p = SubjectParams::default();
        let with_person = |b: Detection| FrameDetections { faces: vec![], people: vec![b], text: vec![], saliency: Some(map.clone()) };
        let aim_x = |d: &FrameDetections, p: &SubjectParams| fuse(&for_aim(d, d.saliency.clone(), p), None, p).unwrap().x;
        // Sure (0.9) and large (0.2 × 0.6 = 12 % of the picture): the person.
        let sure = with_person(det(0.05, 0.2, 0.25, 0.8, 0.9));
        assert!((aim_x(&sure, &p) - 0.15).abs() < 1e-6);
        // Unsure (0.5), or sure but small (0.05 × 0.2 = 1 %): the map's subject on the right.
        for weak in [det(0.05, 0.2, 0.25, 0.8, 0.5), det(0.1, 0.4, 0.15, 0.6, 0.9)] {
            let d = with_person(weak);
            assert!((aim_x(&d, &p) - 0.825).abs() < 1e-4, "{weak:?}");
            // Selection's subject is still the person, and without aim_by_motion so is the aim.
            assert_eq!(fuse(&d, None, &p).unwrap().kind, SubjectKind::Person);
            let off = SubjectParams { aim_by_motion: false, ..p };
            assert_eq!(fuse(&for_aim(&d, d.saliency.clone(), &off), None, &off).unwrap().kind, SubjectKind::Person);
        }
    }

    #[test]
    fn saliency_alone_gives_its_centre_of_mass_when_concentrated() {
        let mut map = SaliencyMap { width: 20, height: 10, data: vec![0.0; 200] };
        map.data[3 * 20 + 15] = 1.0;
        let d = FrameDetections { faces: vec![], people: vec![], text: vec![], saliency: Some(map) };
        let s = fuse(&d, None, &SubjectParams::default()).unwrap();
        assert_eq!(s.kind, SubjectKind::Saliency);
        assert!((s.x - 0.775).abs() < 1e-4 && (s.y - 0.35).abs() < 1e-4 && s.evidence > 0.9, "{s:?}");
        let flat = FrameDetections { faces: vec![], people: vec![], text: vec![], saliency: Some(SaliencyMap { width: 20, height: 10, data: vec![1.0; 200] }) };
        assert!(fuse(&flat, None, &SubjectParams::default()).is_none());
        assert!(fuse(&frame(vec![], vec![]), None, &SubjectParams::default()).is_none());
    }

    #[test]
    fn motion_moves_the_aim_from_a_glow_the_scene_does_not_move_in_to_what_moves() {
        // A fixation map sure of the road's vanishing point (x 0.25) and half as sure of a car
        // (x 0.75); only the car moves.
        let mut map = SaliencyMap { width: 20, height: 10, data: vec![0.0; 200] };
        map.data[5 * 20 + 5] = 1.0;
        map.data[5 * 20 + 15] = 0.5;
        let mut motion = Plane::new(10, 5);
        motion.data[2 * 10 + 7] = 3.0;
        let p = SubjectParams::default();
        let plain = fuse(&FrameDetections { saliency: Some(map.clone()), ..FrameDetections::default() }, None, &p).unwrap();
        assert!(plain.x < 0.3, "{plain:?}");
        let weighed = weigh_by_motion(&map, &motion, p.motion_floor);
        assert_eq!(weighed.data.iter().copied().fold(0.0f32, f32::max), 1.0);
        // 0.5 × 1.1 against 1 × 0.1: the car now leads, and the power of 6 puts the aim on it.
        let aim = fuse(&FrameDetections { saliency: Some(weighed), ..FrameDetections::default() }, None, &p).unwrap();
        assert!((aim.x - 0.775).abs() < 0.01, "{aim:?}");
    }

    #[test]
    fn no_motion_or_a_map_of_no_size_leaves_the_saliency_map_as_it_was() {
        let map = SaliencyMap { width: 4, height: 2, data: vec![0.1, 0.2, 1.0, 0.4, 0.0, 0.3, 0.5, 0.6] };
        assert_eq!(weigh_by_motion(&map, &Plane::new(8, 4), 0.3), map);
        assert_eq!(weigh_by_motion(&map, &Plane::new(0, 0), 0.3), map);
        assert_eq!(weigh_by_motion(&map, &Plane { width: 3, height: 3, data: vec![1.0; 4] }, 0.3), map);
        // Motion where the map is empty: nothing to weigh up, the map stays.
        let mut only_there = Plane::new(4, 2);
        only_there.data[4] = 2.0;
        assert_eq!(weigh_by_motion(&map, &only_there, 0.0), map);
    }

    #[test]
    fn interpolation_is_linear_within_a_kind_and_holds_at_the_ends() {
        let s = |x: f32| Subject { x, y: 0.5, evidence: 1.0, kind: SubjectKind::Person, area: 0.1 };
        let out = interpolate(&[(2, s(0.2)), (6, s(0.6))], 10, 2);
        assert!(out[0].is_some() && out[1].is_some());
        assert!((out[4].unwrap().x - 0.4).abs() < 1e-6);
        assert!((out[8].unwrap().x - 0.6).abs() < 1e-6 && out[9].is_none());
        let out = interpolate(&[(5, s(0.2))], 10, 1);
        assert!(out[3].is_none() && out[4].is_some() && out[6].is_some() && out[7].is_none());
        assert!(interpolate(&[], 4, 3).iter().all(Option::is_none));
    }

    proptest! {
        #[test]
        fn fused_subject_is_inside_the_picture(
            boxes in proptest::collection::vec((0.0f32..1.0, 0.0f32..1.0, 0.0f32..1.0, 0.0f32..1.0, 0.0f32..1.0), 0..6),
            prev in proptest::option::of((0.0f32..1.0, 0.0f32..1.0)),
        ) {
            let dets: Vec<Detection> = boxes.iter().map(|&(a, b, c, d, s)| det(a.min(c), b.min(d), a.max(c), b.max(d), s)).collect();
            let d = frame(dets.clone(), dets);
            if let Some(s) = fuse(&d, prev, &SubjectParams::default()) {
                prop_assert!((0.0..=1.0).contains(&s.x) && (0.0..=1.0).contains(&s.y) && (0.0..=1.0).contains(&s.evidence));
            }
        }

        #[test]
        fn the_aims_detections_are_the_sure_sizeable_ones_of_the_frames(
            boxes in proptest::collection::vec((0.0f32..1.0, 0.0f32..1.0, 0.0f32..0.5, 0.0f32..0.5, 0.0f32..1.0), 0..12),
            score in 0.0f32..1.0, min_area in 0.0f32..0.2,
        ) {
            let dets: Vec<Detection> = boxes.iter().map(|&(x, y, w, h, s)| det(x, y, (x + w).min(1.0), (y + h).min(1.0), s)).collect();
            let d = FrameDetections { faces: dets.clone(), people: dets.clone(), text: dets.clone(), saliency: None };
            let p = SubjectParams { aim_box_score: score, aim_box_area: min_area, ..SubjectParams::default() };
            let kept = for_aim(&d, None, &p);
            for (all, sure) in [(&d.faces, &kept.faces), (&d.people, &kept.people), (&d.text, &kept.text)] {
                let expected: Vec<Detection> = all.iter().filter(|b| b.score >= score && area(b) >= min_area).copied().collect();
                prop_assert_eq!(sure, &expected);
            }
            let off = SubjectParams { aim_by_motion: false, ..p };
            prop_assert_eq!(for_aim(&d, None, &off), d);
        }

        #[test]
        fn a_weighed_map_keeps_its_size_and_stays_within_zero_and_one(
            map in proptest::collection::vec(-0.5f32..2.0, 1..60), w in 1usize..8,
            motion in proptest::collection::vec(prop_oneof![Just(f32::NAN), Just(f32::INFINITY), 0.0f32..10.0], 1..40), mw in 1usize..6,
            floor in 0.0f32..2.0,
        ) {
            let h = map.len() / w;
            prop_assume!(h > 0);
            let map = SaliencyMap { width: w, height: h, data: map[..w * h].to_vec() };
            let mh = motion.len() / mw;
            prop_assume!(mh > 0);
            let motion = Plane { width: mw, height: mh, data: motion[..mw * mh].to_vec() };
            let out = weigh_by_motion(&map, &motion, floor);
            prop_assert_eq!((out.width, out.height, out.data.len()), (w, h, w * h));
            if out != map {
                prop_assert!(out.data.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
            }
        }

        #[test]
        fn interpolation_covers_every_frame_between_samples(
            idx in proptest::collection::btree_set(0usize..200, 1..10), n in 1usize..220,
        ) {
            let samples: Vec<(usize, Subject)> = idx.iter().map(|&i| (i, Subject { x: 0.5, y: 0.5, evidence: 0.5, kind: SubjectKind::Face, area: 0.0 })).collect();
            let out = interpolate(&samples, n, 0);
            prop_assert_eq!(out.len(), n);
            let (first, last) = (*idx.iter().next().unwrap(), *idx.iter().last().unwrap());
            for (i, o) in out.iter().enumerate() {
                prop_assert_eq!(o.is_some(), i >= first && i <= last);
            }
        }
    }
}
