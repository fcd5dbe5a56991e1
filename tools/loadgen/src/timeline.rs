//! Latency over time for the fixed-rate run: per-bucket p99 of each stage (confirm from its
//! scheduled start, settlement lag, projection lag), drawn as one SVG, and a per-minute table
//! that shows whether the end of a long run is as fast as its start.

use std::fmt::Write as _;

use crate::stats::Latencies;

/// One stage's samples: (seconds since the load began, latency in ms).
pub struct Stage {
    pub name: &'static str,
    pub colour: &'static str,
    pub samples: Vec<(f64, f64)>,
}

/// (bucket start in seconds, p99 in ms, samples).
pub type Bucket = (f64, f64, usize);

/// p99 per bucket of `width` seconds, empty buckets left out.
pub fn p99_per_bucket(samples: &[(f64, f64)], width: f64) -> Vec<Bucket> {
    let mut buckets: Vec<Latencies> = Vec::new();
    for &(t, ms) in samples {
        let i = (t.max(0.0) / width) as usize;
        if buckets.len() <= i {
            buckets.resize_with(i + 1, Latencies::default);
        }
        buckets[i].push_ms(ms);
    }
    buckets
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i as f64 * width, l.percentile(99.0), l.len()))
        .collect()
}

/// Rows of `| minute | stage p99 … |` for a Markdown table.
pub fn per_minute(stages: &[Stage]) -> String {
    let mut md = String::from("| minute |");
    for s in stages {
        let _ = write!(md, " {} p99 (ms) |", s.name);
    }
    md.push_str("\n|---|");
    md.push_str(&"---|".repeat(stages.len()));
    md.push('\n');
    let columns: Vec<Vec<Bucket>> = stages
        .iter()
        .map(|s| p99_per_bucket(&s.samples, 60.0))
        .collect();
    let minutes = columns
        .iter()
        .filter_map(|c| c.last().map(|(t, ..)| (*t / 60.0) as usize + 1))
        .max()
        .unwrap_or(0);
    for m in 0..minutes {
        let _ = write!(md, "| {} |", m + 1);
        for c in &columns {
            match c.iter().find(|(t, ..)| (*t / 60.0) as usize == m) {
                Some((_, p99, n)) => {
                    let _ = write!(md, " {p99:.1} ({n}) |");
                }
                None => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    md
}

/// p99 of the last full minute over the first (the 10-minute run's stability figure). A last
/// bucket with fewer than half the first's samples is the spill-over of events born as the
/// load stopped, not a minute of load: the one before it counts.
pub fn last_over_first_minute(samples: &[(f64, f64)]) -> Option<f64> {
    let minutes = p99_per_bucket(samples, 60.0);
    let first = minutes.first()?;
    let last = minutes.iter().skip(1).rev().find(|m| m.2 * 2 >= first.2)?;
    (first.1 > 0.0).then(|| last.1 / first.1)
}

/// One line per stage: p99 per `width`-second bucket over the run, on a log scale.
pub fn svg(title: &str, stages: &[Stage], width: f64) -> String {
    const W: f64 = 760.0;
    const H: f64 = 380.0;
    const LEFT: f64 = 64.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 60.0;
    const BOTTOM: f64 = 320.0;
    let lines: Vec<(&Stage, Vec<Bucket>)> = stages
        .iter()
        .map(|s| (s, p99_per_bucket(&s.samples, width)))
        .collect();
    let t_max = lines
        .iter()
        .flat_map(|(_, b)| b.iter().map(|(t, ..)| *t + width))
        .fold(width, f64::max);
    let ms = lines.iter().flat_map(|(_, b)| b.iter().map(|(_, p, _)| *p));
    let hi = ms.clone().fold(1.0, f64::max) * 1.2;
    let lo = ms.fold(f64::INFINITY, f64::min).clamp(0.1, 1.0);
    let (llo, lhi) = (lo.log10().floor(), hi.log10().ceil());
    let x_of = |t: f64| LEFT + t / t_max * (W - LEFT - RIGHT);
    let y_of = |ms: f64| BOTTOM - (ms.max(lo).log10() - llo) / (lhi - llo) * (BOTTOM - TOP);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12"><rect width="{W}" height="{H}" fill="white"/><text x="{LEFT}" y="24" font-size="15">{}</text>"#,
        title.replace('&', "&amp;").replace('<', "&lt;")
    );
    let mut decade = llo;
    while decade <= lhi {
        let v = 10f64.powf(decade);
        let y = y_of(v);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{} ms</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            if v >= 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v}")
            }
        );
        decade += 1.0;
    }
    let step = if t_max > 300.0 { 60.0 } else { 10.0 };
    let mut t = 0.0;
    while t <= t_max {
        let x = x_of(t);
        let _ = write!(
            svg,
            r#"<line x1="{x:.1}" y1="{BOTTOM}" x2="{x:.1}" y2="{:.1}" stroke="black"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{t:.0}</text>"#,
            BOTTOM + 5.0,
            BOTTOM + 18.0
        );
        t += step;
    }
    let _ = write!(
        svg,
        r#"<line x1="{LEFT}" y1="{BOTTOM}" x2="{:.1}" y2="{BOTTOM}" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="middle">seconds into the load; p99 per {width:.0} s (log scale)</text>"#,
        W - RIGHT,
        (LEFT + W - RIGHT) / 2.0,
        BOTTOM + 40.0
    );
    for (i, (stage, buckets)) in lines.iter().enumerate() {
        let points: Vec<String> = buckets
            .iter()
            .map(|(t, p, _)| format!("{:.1},{:.1}", x_of(t + width / 2.0), y_of(*p)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/><text x="{:.1}" y="44" fill="{}">{}</text>"#,
            stage.colour,
            points.join(" "),
            LEFT + 230.0 * i as f64,
            stage.colour,
            stage.name
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_take_the_p99_of_their_own_samples() {
        let samples: Vec<(f64, f64)> = (0..200).map(|i| (i as f64 * 0.6, i as f64)).collect();
        let b = p99_per_bucket(&samples, 60.0);
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].0, b[0].2), (0.0, 100));
        assert_eq!(b[0].1, 98.0);
        assert_eq!(b[1].1, 198.0);
        let ratio = last_over_first_minute(&samples).expect("two minutes");
        assert!((ratio - 198.0 / 98.0).abs() < 1e-9);
        // A few events of a third minute (the drain) do not count as the last minute.
        let mut spill = samples.clone();
        spill.extend((0..5).map(|i| (121.0 + f64::from(i), 1.0)));
        let ratio = last_over_first_minute(&spill).expect("two full minutes");
        assert!((ratio - 198.0 / 98.0).abs() < 1e-9);
        let stage = Stage {
            name: "confirm",
            colour: "#000",
            samples,
        };
        assert!(per_minute(std::slice::from_ref(&stage)).contains("| 2 | 198.0 (100) |"));
        let svg = svg("t", &[stage], 10.0);
        assert!(svg.starts_with("<svg") && svg.contains("polyline"));
    }
}
