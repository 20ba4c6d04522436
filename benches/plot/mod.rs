//! Small standalone SVG charts of the service benchmark's figures (no plotting crate): a figure
//! is a grid of panels, each lines/points or grouped bars on linear or log axes, with its own
//! legend. Plain SVG 1.1 with a white background, so GitHub shows it as an image in Markdown.

use std::fmt::Write;

/// Ours and the peer, in every plot.
pub const OURS: &str = "#1b65b0";
pub const PEER: &str = "#d95f02";

const PANEL_W: f64 = 520.0;
const LEFT: f64 = 66.0;
const PW: f64 = 430.0;
const TOP: f64 = 34.0;
const PH: f64 = 210.0;
const LINE_H: f64 = 13.0;
/// Rough width of a character at 11 px sans-serif, for wrapping and legend columns.
const CHAR_W: f64 = 6.2;

#[derive(Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    Log,
}

pub struct Axis {
    label: String,
    scale: Scale,
    range: Option<(f64, f64)>,
    ticks: Option<Vec<f64>>,
}

impl Axis {
    /// From 0 (or the data's minimum, if negative) to a round number above the data.
    pub fn linear(label: &str) -> Axis {
        Axis { label: label.to_string(), scale: Scale::Linear, range: None, ticks: None }
    }

    /// Whole decades around the data; values at or below the range's start are drawn at it.
    pub fn log(label: &str) -> Axis {
        Axis { label: label.to_string(), scale: Scale::Log, range: None, ticks: None }
    }

    pub fn range(mut self, lo: f64, hi: f64) -> Axis {
        self.range = Some((lo, hi));
        self
    }

    pub fn ticks(mut self, ticks: &[f64]) -> Axis {
        self.ticks = Some(ticks.to_vec());
        self
    }

    /// The range and ticks to draw, from the values the panel holds.
    fn resolve(&self, values: impl Iterator<Item = f64>, headroom: f64) -> Resolved {
        let usable: Vec<f64> = values.filter(|v| v.is_finite() && (self.scale == Scale::Linear || *v > 0.0)).collect();
        let (min, max) = usable.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let (lo, hi) = match (self.range, self.scale) {
            (Some(range), _) => range,
            (None, _) if usable.is_empty() => (if self.scale == Scale::Log { 1.0 } else { 0.0 }, 10.0),
            (None, Scale::Linear) => {
                let lo = min.min(0.0);
                let top = if max > lo { max + (max - lo) * headroom } else { lo + 1.0 };
                let step = nice_step((top - lo) / 5.0);
                (lo, (top / step).ceil() * step)
            }
            (None, Scale::Log) => {
                let lo = 10f64.powf(min.log10().floor());
                let hi = 10f64.powf((max * (1.0 + headroom)).log10().ceil());
                (lo, if hi > lo { hi } else { lo * 10.0 })
            }
        };
        let ticks = self.ticks.clone().unwrap_or_else(|| match self.scale {
            Scale::Linear => {
                let step = nice_step((hi - lo) / 5.0);
                let first = (lo / step).ceil() as i64;
                (first..).map(|k| k as f64 * step).take_while(|t| *t <= hi + step * 1e-9).collect()
            }
            Scale::Log => {
                // Label 2 and 5 between the powers of ten too when there are few decades.
                let decades = (hi / lo).log10().round();
                let steps: &[f64] = if decades <= 2.0 { &[1.0, 2.0, 5.0] } else { &[1.0] };
                let mut ticks = Vec::new();
                let mut decade = lo;
                while decade <= hi * (1.0 + 1e-9) {
                    ticks.extend(steps.iter().map(|s| s * decade).filter(|t| *t <= hi * (1.0 + 1e-9)));
                    decade *= 10.0;
                }
                ticks
            }
        });
        Resolved { scale: self.scale, lo, hi, ticks }
    }
}

struct Resolved {
    scale: Scale,
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Resolved {
    /// Where `v` lies along the axis, 0 to 1, clamped to the range.
    fn fraction(&self, v: f64) -> f64 {
        let f = match self.scale {
            Scale::Linear => (v - self.lo) / (self.hi - self.lo),
            Scale::Log => (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10()),
        };
        f.clamp(0.0, 1.0)
    }
    fn x(&self, v: f64) -> f64 {
        LEFT + self.fraction(v) * PW
    }
    fn y(&self, v: f64) -> f64 {
        TOP + PH * (1.0 - self.fraction(v))
    }
}

/// A line through points (x, y); points with a coordinate that is not finite are left out.
pub struct Line {
    label: String,
    color: &'static str,
    dashed: bool,
    markers: bool,
    points: Vec<(f64, f64)>,
}

impl Line {
    pub fn new(label: &str, color: &'static str, points: Vec<(f64, f64)>) -> Line {
        Line {
            label: label.to_string(),
            color,
            dashed: false,
            markers: false,
            points: points.into_iter().filter(|(x, y)| x.is_finite() && y.is_finite()).collect(),
        }
    }
    pub fn dashed(mut self) -> Line {
        self.dashed = true;
        self
    }
    /// A dot at every point (for few points, where the line alone hides them).
    pub fn markers(mut self) -> Line {
        self.markers = true;
        self
    }
}

/// One bar per category (the panel's), NaN for none.
pub struct Bars {
    label: String,
    color: &'static str,
    light: bool,
    values: Vec<f64>,
}

impl Bars {
    pub fn new(label: &str, color: &'static str, values: Vec<f64>) -> Bars {
        Bars { label: label.to_string(), color, light: false, values }
    }
    /// A paler fill, for a second figure of the same side (p99 beside p50).
    pub fn light(mut self) -> Bars {
        self.light = true;
        self
    }
}

enum Body {
    Lines { x: Axis, lines: Vec<Line> },
    Bars { categories: Vec<String>, bars: Vec<Bars> },
}

pub struct Panel {
    title: String,
    y: Axis,
    body: Body,
    /// A horizontal reference line (a target), with its label.
    reference: Option<(f64, String)>,
}

impl Panel {
    pub fn lines(title: &str, x: Axis, y: Axis, lines: Vec<Line>) -> Panel {
        let lines = lines.into_iter().filter(|l| !l.points.is_empty()).collect();
        Panel { title: title.to_string(), y, body: Body::Lines { x, lines }, reference: None }
    }

    pub fn bars(title: &str, categories: &[&str], y: Axis, bars: Vec<Bars>) -> Panel {
        let bars = bars.into_iter().filter(|b| b.values.iter().any(|v| v.is_finite())).collect();
        Panel { title: title.to_string(), y, body: Body::Bars { categories: categories.iter().map(|c| c.to_string()).collect(), bars }, reference: None }
    }

    pub fn reference(mut self, value: f64, label: &str) -> Panel {
        self.reference = Some((value, label.to_string()));
        self
    }

    /// (label, style) of each legend entry.
    fn legend(&self) -> Vec<(&str, Swatch)> {
        match &self.body {
            Body::Lines { lines, .. } => {
                lines.iter().map(|l| (l.label.as_str(), Swatch::Line { color: l.color, dashed: l.dashed, marker: l.markers })).collect()
            }
            Body::Bars { bars, .. } => bars.iter().map(|b| (b.label.as_str(), Swatch::Bar { color: b.color, light: b.light })).collect(),
        }
    }

    fn legend_columns(&self) -> usize {
        let widest = self.legend().iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0);
        if widest as f64 * CHAR_W + 30.0 > PW / 2.0 {
            1
        } else {
            2
        }
    }

    /// Lines of text under the x axis: tick labels (category labels may wrap) and the axis label.
    fn axis_lines(&self) -> usize {
        match &self.body {
            Body::Lines { .. } => 2,
            Body::Bars { categories, .. } => {
                let band = PW / categories.len().max(1) as f64;
                categories.iter().map(|c| wrap(c, band).len()).max().unwrap_or(1)
            }
        }
    }

    fn height(&self) -> f64 {
        let legend_rows = self.legend().len().div_ceil(self.legend_columns());
        TOP + PH + 8.0 + self.axis_lines() as f64 * LINE_H + 10.0 + legend_rows as f64 * 15.0 + 8.0
    }

    fn svg(&self, out: &mut String) {
        let _ = writeln!(out, "<text x=\"{LEFT}\" y=\"{}\" font-size=\"12\" font-weight=\"bold\">{}</text>", TOP - 12.0, xml_escape(&self.title));
        let headroom = if matches!(self.body, Body::Bars { .. }) { 0.12 } else { 0.0 };
        let y_values: Vec<f64> = match &self.body {
            Body::Lines { lines, .. } => lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).collect(),
            Body::Bars { bars, .. } => bars.iter().flat_map(|b| b.values.iter().copied()).collect(),
        };
        let y = self.y.resolve(y_values.into_iter().chain(self.reference.as_ref().map(|r| r.0)), headroom);
        for &t in &y.ticks {
            let ty = y.y(t);
            let _ = writeln!(out, "<line x1=\"{LEFT}\" y1=\"{ty:.1}\" x2=\"{}\" y2=\"{ty:.1}\" stroke=\"#e4e4e4\"/>", LEFT + PW);
            let _ = writeln!(out, "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>", LEFT - 5.0, ty + 4.0, tick_label(t));
        }
        let _ = writeln!(
            out,
            "<text transform=\"translate(14,{:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            TOP + PH / 2.0,
            xml_escape(&axis_title(&self.y))
        );
        let below = TOP + PH + 8.0;
        match &self.body {
            Body::Lines { x, lines } => {
                let title = axis_title(x);
                let x = x.resolve(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)), 0.0);
                for &t in &x.ticks {
                    let tx = x.x(t);
                    let _ = writeln!(out, "<line x1=\"{tx:.1}\" y1=\"{TOP}\" x2=\"{tx:.1}\" y2=\"{}\" stroke=\"#e4e4e4\"/>", TOP + PH);
                    let _ = writeln!(out, "<text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>", below + 8.0, tick_label(t));
                }
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    LEFT + PW / 2.0,
                    below + 8.0 + LINE_H + 2.0,
                    xml_escape(&title)
                );
                for line in lines {
                    let points: Vec<String> = line.points.iter().map(|&(px, py)| format!("{:.1},{:.1}", x.x(px), y.y(py))).collect();
                    let _ = writeln!(out, "<polyline points=\"{}\" {}/>", points.join(" "), stroke(line.color, line.dashed));
                    if line.markers {
                        for &(px, py) in &line.points {
                            let _ = writeln!(out, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>", x.x(px), y.y(py), line.color);
                        }
                    }
                }
            }
            Body::Bars { categories, bars } => {
                let band = PW / categories.len().max(1) as f64;
                let width = band * 0.8 / bars.len().max(1) as f64;
                for (c, category) in categories.iter().enumerate() {
                    let center = LEFT + band * (c as f64 + 0.5);
                    for (k, text) in wrap(category, band).iter().enumerate() {
                        let _ = writeln!(
                            out,
                            "<text x=\"{center:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                            below + 8.0 + k as f64 * LINE_H,
                            xml_escape(text)
                        );
                    }
                    // The bars present in this category, side by side around its center.
                    let present: Vec<(&Bars, f64)> = bars.iter().filter_map(|b| b.values.get(c).filter(|v| v.is_finite()).map(|&v| (b, v))).collect();
                    let mut bx = center - width * present.len() as f64 / 2.0;
                    for (b, v) in present {
                        // From 0, or from the bottom of a log axis.
                        let (top, base) = (y.y(v), y.y(if y.scale == Scale::Linear { 0.0 } else { y.lo }));
                        let _ = writeln!(
                            out,
                            "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" {}/>",
                            bx + 1.0,
                            width - 2.0,
                            (base - top).max(0.5),
                            fill(b.color, b.light)
                        );
                        let _ = writeln!(
                            out,
                            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#333\">{}</text>",
                            bx + width / 2.0,
                            top - 3.0,
                            value_label(v)
                        );
                        bx += width;
                    }
                }
            }
        }
        if let Some((value, label)) = &self.reference {
            let ry = y.y(*value);
            let _ = writeln!(out, "<line x1=\"{LEFT}\" y1=\"{ry:.1}\" x2=\"{}\" y2=\"{ry:.1}\" stroke=\"#555\" stroke-dasharray=\"2 3\"/>", LEFT + PW);
            let _ = writeln!(out, "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>", LEFT + PW - 4.0, ry - 4.0, xml_escape(label));
        }
        let _ = writeln!(out, "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{PW}\" height=\"{PH}\" fill=\"none\" stroke=\"#888\"/>");

        let columns = self.legend_columns();
        let legend_top = below + self.axis_lines() as f64 * LINE_H + 10.0;
        for (k, (label, swatch)) in self.legend().into_iter().enumerate() {
            let lx = LEFT + (k % columns) as f64 * PW / 2.0;
            let ly = legend_top + (k / columns) as f64 * 15.0 + 10.0;
            match swatch {
                Swatch::Line { color, dashed, marker } => {
                    let _ = writeln!(out, "<line x1=\"{lx}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" {}/>", ly - 4.0, lx + 22.0, ly - 4.0, stroke(color, dashed));
                    if marker {
                        let _ = writeln!(out, "<circle cx=\"{}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>", lx + 11.0, ly - 4.0);
                    }
                }
                Swatch::Bar { color, light } => {
                    let _ = writeln!(out, "<rect x=\"{}\" y=\"{:.1}\" width=\"14\" height=\"10\" {}/>", lx + 4.0, ly - 9.0, fill(color, light));
                }
            }
            let _ = writeln!(out, "<text x=\"{}\" y=\"{ly:.1}\">{}</text>", lx + 28.0, xml_escape(label));
        }
    }
}

enum Swatch {
    Line { color: &'static str, dashed: bool, marker: bool },
    Bar { color: &'static str, light: bool },
}

/// A whole SVG document: a title, an optional note under it, then the panels, `columns` a row.
pub fn figure(title: &str, note: &str, columns: usize, panels: &[Panel]) -> String {
    let columns = columns.clamp(1, panels.len().max(1));
    let head = if note.is_empty() { 30.0 } else { 46.0 };
    let panel_h = panels.iter().map(Panel::height).fold(0.0, f64::max);
    let rows = panels.len().div_ceil(columns);
    let (width, height) = (PANEL_W * columns as f64, head + panel_h * rows as f64);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height:.0}\" viewBox=\"0 0 {width} {height:.0}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\" fill=\"#222\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let _ = writeln!(out, "<text x=\"12\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>", xml_escape(title));
    if !note.is_empty() {
        let _ = writeln!(out, "<text x=\"12\" y=\"37\" fill=\"#555\">{}</text>", xml_escape(note));
    }
    for (i, panel) in panels.iter().enumerate() {
        let _ = writeln!(out, "<g transform=\"translate({},{})\">", (i % columns) as f64 * PANEL_W, head + (i / columns) as f64 * panel_h);
        panel.svg(&mut out);
        out += "</g>\n";
    }
    out + "</svg>\n"
}

fn axis_title(axis: &Axis) -> String {
    if axis.scale == Scale::Log && !axis.label.is_empty() {
        format!("{} (log scale)", axis.label)
    } else {
        axis.label.clone()
    }
}

fn stroke(color: &str, dashed: bool) -> String {
    format!("stroke=\"{color}\" stroke-width=\"2\" fill=\"none\"{}", if dashed { " stroke-dasharray=\"6 3\"" } else { "" })
}

fn fill(color: &str, light: bool) -> String {
    format!("fill=\"{color}\"{}", if light { format!(" fill-opacity=\"0.4\" stroke=\"{color}\"") } else { String::new() })
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let f = raw / power;
    power
        * if f <= 1.0 + 1e-9 {
            1.0
        } else if f <= 2.0 + 1e-9 {
            2.0
        } else if f <= 5.0 + 1e-9 {
            5.0
        } else {
            10.0
        }
}

/// `v` with at most three decimals and no trailing zeros.
fn trimmed(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

fn tick_label(v: f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("{}M", trimmed(v / 1e6)),
        a if a >= 1e4 => format!("{}k", trimmed(v / 1e3)),
        _ => trimmed(v),
    }
}

/// A bar's value, to about three significant digits.
fn value_label(v: f64) -> String {
    match v.abs() {
        a if a >= 1e5 => format!("{:.0}k", v / 1e3),
        a if a >= 1e4 => format!("{:.1}k", v / 1e3),
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => trimmed((v * 100.0).round() / 100.0),
    }
}

/// `text` in lines of at most `width` px, broken at spaces.
fn wrap(text: &str, width: f64) -> Vec<String> {
    let max = ((width / CHAR_W) as usize).max(4);
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(last) if last.chars().count() + 1 + word.chars().count() <= max => {
                last.push(' ');
                last.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
