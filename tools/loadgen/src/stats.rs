//! Latency samples: percentiles, and a histogram drawn as a self-contained SVG.

use std::{fmt::Write as _, time::Duration};

/// Samples in milliseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    ms: Vec<f64>,
}

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.ms.push(d.as_secs_f64() * 1000.0);
    }

    pub fn push_ms(&mut self, ms: f64) {
        self.ms.push(ms);
    }

    pub fn len(&self) -> usize {
        self.ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ms.is_empty()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// Nearest-rank percentile (`p` in 0..=100); 0 without samples.
    pub fn percentile(&self, p: f64) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v[rank.min(v.len()) - 1]
    }

    /// `p50 / p95 / p99 / max` in ms, for tables.
    pub fn summary(&self) -> String {
        format!(
            "{:.1} / {:.1} / {:.1} / {:.1}",
            self.percentile(50.0),
            self.percentile(95.0),
            self.percentile(99.0),
            self.percentile(100.0)
        )
    }

    /// A histogram of the samples up to the 99.9th percentile on log-spaced buckets, with the
    /// p50/p95/p99 marked.
    pub fn histogram_svg(&self, title: &str) -> String {
        const W: f64 = 720.0;
        const H: f64 = 360.0;
        const LEFT: f64 = 60.0;
        const BOTTOM: f64 = 300.0;
        const TOP: f64 = 84.0;
        const BUCKETS: usize = 48;
        let v = self.sorted();
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = write!(
            svg,
            r#"<text x="{LEFT}" y="24" font-size="15">{}</text>"#,
            escape(title)
        );
        if v.is_empty() {
            svg.push_str("</svg>");
            return svg;
        }
        let lo = v[0].max(0.01);
        let hi = self.percentile(99.9).max(lo * 1.01);
        let (llo, lhi) = (lo.ln(), hi.ln());
        let bucket = |x: f64| -> usize {
            let f = (x.max(lo).ln() - llo) / (lhi - llo);
            ((f * BUCKETS as f64) as usize).min(BUCKETS - 1)
        };
        let mut counts = [0usize; BUCKETS];
        for &x in v.iter().filter(|&&x| x <= hi) {
            counts[bucket(x)] += 1;
        }
        let max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
        let plot_w = W - LEFT - 20.0;
        let bar_w = plot_w / BUCKETS as f64;
        for (i, &c) in counts.iter().enumerate() {
            let h = (c as f64 / max) * (BOTTOM - TOP);
            let x = LEFT + i as f64 * bar_w;
            let _ = write!(
                svg,
                r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#4a7ebb"/>"##,
                BOTTOM - h,
                (bar_w - 1.0).max(1.0)
            );
        }
        let x_of = |ms: f64| LEFT + (ms.max(lo).ln() - llo) / (lhi - llo) * plot_w;
        let _ = write!(
            svg,
            r#"<line x1="{LEFT}" y1="{BOTTOM}" x2="{:.1}" y2="{BOTTOM}" stroke="black"/>"#,
            LEFT + plot_w
        );
        // Axis ticks at 1-2-5 steps within the range.
        let mut tick = 10f64.powf(lo.log10().floor());
        while tick <= hi {
            for m in [1.0, 2.0, 5.0] {
                let t = tick * m;
                if t >= lo && t <= hi {
                    let x = x_of(t);
                    let _ = write!(
                        svg,
                        r#"<line x1="{x:.1}" y1="{BOTTOM}" x2="{x:.1}" y2="{:.1}" stroke="black"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                        BOTTOM + 5.0,
                        BOTTOM + 18.0,
                        trim(t)
                    );
                }
            }
            tick *= 10.0;
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">confirm latency, ms (log scale); {} samples</text>"#,
            LEFT + plot_w / 2.0,
            BOTTOM + 40.0,
            v.len()
        );
        // Labels stacked above the bars, each beside its own marker line.
        for (i, (p, colour)) in [(50.0, "#2a9d8f"), (95.0, "#d4a017"), (99.0, "#e76f51")]
            .into_iter()
            .enumerate()
        {
            let ms = self.percentile(p);
            let x = x_of(ms);
            // Labels of markers near the right edge go on the line's left, inside the picture.
            let right = x > W * 0.7;
            let anchor = if right { "end" } else { "start" };
            let _ = write!(
                svg,
                r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{BOTTOM}" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="{colour}" text-anchor="{anchor}">p{p} {ms:.1} ms</text>"#,
                TOP - 40.0 + 14.0 * i as f64,
                if right { x - 4.0 } else { x + 4.0 },
                TOP - 30.0 + 14.0 * i as f64
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn trim(x: f64) -> String {
    if x >= 1.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

use service_kit::html::escape;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.push_ms(ms as f64);
        }
        assert_eq!(l.percentile(50.0), 50.0);
        assert_eq!(l.percentile(99.0), 99.0);
        assert_eq!(l.percentile(100.0), 100.0);
        assert_eq!(Latencies::default().percentile(50.0), 0.0);
    }

    #[test]
    fn the_histogram_is_an_svg_with_the_markers() {
        let mut l = Latencies::default();
        for ms in [1.0, 2.0, 3.0, 40.0] {
            l.push_ms(ms);
        }
        let svg = l.histogram_svg("t <1>");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("p50") && svg.contains("t &lt;1&gt;"));
    }
}
