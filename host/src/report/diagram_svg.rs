//! The report's diagrams drawn as inline SVG for the HTML page, from the same diagrams that
//! display as Mermaid source: lifelines and arrows for the sequence, boxes and arrows for the
//! architecture, a timeline for a test plan. Sizes come from an estimate of the text's width (no
//! font metrics at hand), generous enough for any sans-serif font. The `svg` crate escapes every
//! text and attribute.

use svg::node::element::path::Data;
use svg::node::element::{Element, Group, Line, Path, Rectangle, Title};
use svg::{Document, Node as _};

use super::mermaid::{Flowchart, Plan, Sequence, Shape, Step};

const FONT_SIZE: f64 = 12.0;
/// the average width of a 12 px sans-serif character, rounded up
const CHAR_WIDTH: f64 = 7.0;
const LINE_HEIGHT: f64 = 15.0;
/// a label line longer than this breaks between words
const WRAP: usize = 28;
const MARGIN: f64 = 10.0;
const INK: &str = "#3c4043";
const MUTED: &str = "#80868b";

/// A coordinate with one decimal: enough for a screen, and short.
fn px(value: f64) -> f32 {
    ((value * 10.0).round() / 10.0) as f32
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// A label's lines: a parenthesis opens a line of its own, a long line breaks between words.
fn wrap(label: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for (index, piece) in label.split(" (").enumerate() {
        let piece = if index == 0 {
            piece.to_string()
        } else {
            format!("({piece}")
        };
        let mut line = String::new();
        for word in piece.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > WRAP {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

/// The width and height of a box around `lines`.
fn box_size(lines: &[String]) -> (f64, f64) {
    let widest = lines.iter().map(|l| text_width(l)).fold(0.0, f64::max);
    (widest + 20.0, lines.len() as f64 * LINE_HEIGHT + 12.0)
}

/// An SVG being drawn, and the area its elements cover, which the document frames.
struct Canvas {
    root: Group,
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            root: Group::new(),
            left: f64::INFINITY,
            top: f64::INFINITY,
            right: f64::NEG_INFINITY,
            bottom: f64::NEG_INFINITY,
        }
    }

    fn cover(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64)) {
        self.left = self.left.min(x0.min(x1));
        self.top = self.top.min(y0.min(y1));
        self.right = self.right.max(x0.max(x1));
        self.bottom = self.bottom.max(y0.max(y1));
    }

    fn add(&mut self, node: impl Into<Box<dyn svg::Node>>) {
        self.root.append(node);
    }

    /// One line of text; `anchor` is SVG's `start`, `middle` or `end`, `y` its vertical centre.
    fn text(&mut self, (x, y): (f64, f64), anchor: &str, content: &str, style: &[(&str, &str)]) {
        let width = text_width(content);
        let x0 = match anchor {
            "middle" => x - width / 2.0,
            "end" => x - width,
            _ => x,
        };
        self.cover(
            (x0, y - LINE_HEIGHT / 2.0),
            (x0 + width, y + LINE_HEIGHT / 2.0),
        );
        // The crate's own Text element sets its content between line breaks, which a browser
        // may draw as spaces around it: the content goes in bare.
        let mut text = Element::new("text");
        text.append(svg::node::Text::new(content));
        text.assign("x", px(x));
        text.assign("y", px(y + FONT_SIZE * 0.35));
        text.assign("text-anchor", anchor);
        for (name, value) in style {
            text.assign(*name, *value);
        }
        self.add(text);
    }

    /// Lines centred on (x, y).
    fn lines(&mut self, x: f64, y: f64, lines: &[String]) {
        let top = y - LINE_HEIGHT * lines.len() as f64 / 2.0;
        for (index, line) in lines.iter().enumerate() {
            let y = top + LINE_HEIGHT * (index as f64 + 0.5);
            self.text((x, y), "middle", line, &[]);
        }
    }

    fn rectangle(&mut self, (x, y): (f64, f64), (width, height): (f64, f64)) -> Rectangle {
        self.cover((x, y), (x + width, y + height));
        Rectangle::new()
            .set("x", px(x))
            .set("y", px(y))
            .set("width", px(width))
            .set("height", px(height))
    }

    /// A box of `shape` centred on `centre`, its label inside and in full as its tooltip.
    fn node(&mut self, centre: (f64, f64), shape: Shape, lines: &[String], full: &str) {
        let (width, height) = box_size(lines);
        let (x, y) = (centre.0 - width / 2.0, centre.1 - height / 2.0);
        let mut group = Group::new().add(Title::new(full));
        match shape {
            Shape::Store => {
                // A cylinder: the body, then the front of its lid.
                let (rx, ry) = (width / 2.0, 5.0);
                self.cover((x, y - ry), (x + width, y + height + ry));
                let body = Data::new()
                    .move_to((px(x), px(y)))
                    .elliptical_arc_to((px(rx), px(ry), 0, 0, 0, px(x + width), px(y)))
                    .vertical_line_to(px(y + height))
                    .elliptical_arc_to((px(rx), px(ry), 0, 0, 1, px(x), px(y + height)))
                    .close();
                let lid = Data::new().move_to((px(x), px(y))).elliptical_arc_to((
                    px(rx),
                    px(ry),
                    0,
                    0,
                    1,
                    px(x + width),
                    px(y),
                ));
                group = group
                    .add(styled(Path::new().set("d", body), "#e6f4ea", "#137333"))
                    .add(styled(Path::new().set("d", lid), "none", "#137333"));
            }
            Shape::Box | Shape::Terminal => {
                let radius = if shape == Shape::Terminal {
                    height / 2.0
                } else {
                    4.0
                };
                let rectangle = self
                    .rectangle((x, y), (width, height))
                    .set("rx", px(radius));
                group = group.add(styled(rectangle, "#f1f3f4", "#5f6368"));
            }
        }
        self.add(group);
        self.lines(centre.0, centre.1, lines);
    }

    /// Text on a white ground, so it stays legible over the lines it labels.
    fn label(&mut self, (x, y): (f64, f64), content: &str) {
        let width = text_width(content) + 6.0;
        let ground = self
            .rectangle((x - width / 2.0, y - 8.0), (width, 16.0))
            .set("fill", "#fff")
            .set("fill-opacity", 0.9);
        self.add(ground);
        self.text((x, y), "middle", content, &[]);
    }

    /// `path`, a line or curve that stops short of `tip`, and the arrowhead at `tip` pointing
    /// along `direction` (a unit vector); dashed for a reply, a look or a poll.
    fn arrow(&mut self, path: Data, tip: (f64, f64), direction: (f64, f64), dashed: bool) {
        let mut stroke = Path::new()
            .set("d", path)
            .set("fill", "none")
            .set("stroke", INK)
            .set("stroke-width", 1.2);
        if dashed {
            stroke = stroke.set("stroke-dasharray", "5 4");
        }
        self.add(stroke);
        let (dx, dy) = direction;
        let (back, side) = ((tip.0 - 9.0 * dx, tip.1 - 9.0 * dy), (4.0 * -dy, 4.0 * dx));
        let head = Data::new()
            .move_to((px(tip.0), px(tip.1)))
            .line_to((px(back.0 + side.0), px(back.1 + side.1)))
            .line_to((px(back.0 - side.0), px(back.1 - side.1)))
            .close();
        self.add(Path::new().set("d", head).set("fill", INK));
    }

    fn finish(self, title: &str) -> String {
        let (x, y) = (self.left - MARGIN, self.top - MARGIN);
        let (width, height) = (
            self.right - self.left + 2.0 * MARGIN,
            self.bottom - self.top + 2.0 * MARGIN,
        );
        Document::new()
            .set(
                "viewBox",
                format!("{} {} {} {}", px(x), px(y), px(width), px(height)),
            )
            .set("width", px(width))
            .set("height", px(height))
            .set("role", "img")
            .set("aria-label", title)
            .set("font-family", "system-ui, sans-serif")
            .set("font-size", FONT_SIZE)
            .set("fill", INK)
            .add(Title::new(title))
            .add(self.root)
            .to_string()
    }
}

fn styled<T: svg::Node>(mut shape: T, fill: &str, stroke: &str) -> T {
    shape.assign("fill", fill);
    shape.assign("stroke", stroke);
    shape
}

impl Sequence {
    /// Participants in boxes over their lifelines; each step a row, an arrow with its text above
    /// or a note over its participant.
    pub fn svg(&self) -> String {
        const ROW: f64 = 34.0;
        let mut canvas = Canvas::new();
        let labels: Vec<Vec<String>> = self.participants.iter().map(|p| wrap(&p.label)).collect();
        let sizes: Vec<(f64, f64)> = labels.iter().map(|l| box_size(l)).collect();
        let box_height = sizes.iter().map(|s| s.1).fold(0.0, f64::max);
        // Neighbours clear each other; then each message widens the gaps it spans to hold its
        // text, the shortest spans first.
        let mut gaps: Vec<f64> = sizes
            .windows(2)
            .map(|pair| (pair[0].0 + pair[1].0) / 2.0 + 24.0)
            .collect();
        let mut spans: Vec<(usize, usize, f64)> = self
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::Message { from, to, text, .. } => {
                    Some((*from.min(to), *from.max(to), text_width(text) + 24.0))
                }
                Step::Note { .. } => None,
            })
            .collect();
        spans.sort_by_key(|(low, high, _)| high - low);
        for (low, high, needed) in spans.into_iter().filter(|(low, high, _)| high > low) {
            let held: f64 = gaps[low..high].iter().sum();
            if held < needed {
                let extra = (needed - held) / (high - low) as f64;
                gaps[low..high].iter_mut().for_each(|gap| *gap += extra);
            }
        }
        let mut xs = vec![0.0];
        for gap in &gaps {
            xs.push(xs[xs.len() - 1] + gap);
        }
        let first_row = box_height + 30.0;
        let end = first_row + ROW * self.steps.len() as f64;
        for &x in &xs {
            let lifeline = Line::new()
                .set("x1", px(x))
                .set("y1", px(box_height))
                .set("x2", px(x))
                .set("y2", px(end))
                .set("stroke", MUTED)
                .set("stroke-dasharray", "3 3");
            canvas.add(lifeline);
        }
        for (index, participant) in self.participants.iter().enumerate() {
            let centre = (xs[index], box_height / 2.0);
            canvas.node(centre, Shape::Box, &labels[index], &participant.label);
        }
        for (row, step) in self.steps.iter().enumerate() {
            let y = first_row + ROW * row as f64;
            match step {
                Step::Message {
                    from,
                    to,
                    text,
                    reply,
                } => {
                    let (x0, x1) = (xs[*from], xs[*to]);
                    let direction = if x1 >= x0 { 1.0 } else { -1.0 };
                    let line = Data::new()
                        .move_to((px(x0), px(y)))
                        .horizontal_line_to(px(x1 - 8.0 * direction));
                    canvas.arrow(line, (x1, y), (direction, 0.0), *reply);
                    canvas.text(((x0 + x1) / 2.0, y - 9.0), "middle", text, &[]);
                }
                Step::Note { over, text } => {
                    let width = text_width(text) + 16.0;
                    let note = canvas.rectangle((xs[*over] - width / 2.0, y - 11.0), (width, 22.0));
                    canvas.add(styled(note, "#fef7e0", "#b06000"));
                    canvas.text((xs[*over], y), "middle", text, &[]);
                }
            }
        }
        canvas.finish("Sequence: the data path")
    }
}

impl Flowchart {
    /// Boxes in columns, left to right along the arrows; an arrow that would close a cycle runs
    /// back underneath. The group is a dashed frame around its members.
    pub fn svg(&self) -> String {
        let count = self.nodes.len();
        // An edge moves its target a column right of its source unless it points back to where
        // the accepted edges already lead from its target.
        let mut forward = vec![false; self.edges.len()];
        for (index, edge) in self.edges.iter().enumerate() {
            forward[index] = !self.leads(&forward, edge.to, edge.from);
        }
        let mut column = vec![0usize; count];
        for _ in 0..count {
            for (index, edge) in self.edges.iter().enumerate() {
                if forward[index] {
                    column[edge.to] = column[edge.to].max(column[edge.from] + 1);
                }
            }
        }
        let columns = column.iter().max().map_or(0, |c| c + 1);
        let lines: Vec<Vec<String>> = self
            .nodes
            .iter()
            .map(|node| node.lines.iter().flat_map(|line| wrap(line)).collect())
            .collect();
        let sizes: Vec<(f64, f64)> = lines.iter().map(|l| box_size(l)).collect();
        // Each node's row: its place among its column's nodes, in the order they were declared.
        let mut row = vec![0usize; count];
        let mut filled = vec![0usize; columns];
        for node in 0..count {
            row[node] = filled[column[node]];
            filled[column[node]] += 1;
        }
        let rows = filled.iter().max().copied().unwrap_or(0);
        let widths: Vec<f64> = (0..columns)
            .map(|c| max_of((0..count).filter(|&n| column[n] == c).map(|n| sizes[n].0)))
            .collect();
        let heights: Vec<f64> = (0..rows)
            .map(|r| max_of((0..count).filter(|&n| row[n] == r).map(|n| sizes[n].1)))
            .collect();
        // Between two columns: room for the labels of the arrows that cross that gap.
        let gaps: Vec<f64> = (0..columns.saturating_sub(1))
            .map(|c| {
                let labels =
                    self.edges.iter().enumerate().filter(|(i, e)| {
                        forward[*i] && column[e.from] == c && column[e.to] == c + 1
                    });
                max_of(
                    labels
                        .filter_map(|(_, e)| e.label.as_deref())
                        .map(text_width),
                ) + 50.0
            })
            .collect();
        let mut lefts = vec![0.0];
        for c in 1..columns {
            lefts.push(lefts[c - 1] + widths[c - 1] + gaps[c - 1]);
        }
        let top = if self.group.is_some() { 30.0 } else { 0.0 };
        let mut tops = vec![top];
        for r in 1..rows {
            tops.push(tops[r - 1] + heights[r - 1] + 40.0);
        }
        let centre = |n: usize| {
            (
                lefts[column[n]] + widths[column[n]] / 2.0,
                tops[row[n]] + heights[row[n]] / 2.0,
            )
        };
        let mut canvas = Canvas::new();
        if let Some(group) = self.group.as_ref().filter(|g| !g.members.is_empty()) {
            let corners = group.members.iter().map(|&n| {
                let ((x, y), (w, h)) = (centre(n), sizes[n]);
                (x - w / 2.0, y - h / 2.0, x + w / 2.0, y + h / 2.0)
            });
            let (x0, y0, x1, y1) = corners.fold(
                (
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ),
                |a, b| (a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3)),
            );
            let frame = canvas
                .rectangle((x0 - 12.0, y0 - 28.0), (x1 - x0 + 24.0, y1 - y0 + 40.0))
                .set("rx", 6)
                .set("stroke-dasharray", "6 4");
            canvas.add(styled(frame, "none", MUTED));
            canvas.text((x0 - 4.0, y0 - 16.0), "start", group.title, &[]);
        }
        let bottom = max_of((0..count).map(|n| centre(n).1 + sizes[n].1 / 2.0));
        let mut labels = Vec::new();
        let mut back = 0.0;
        for (index, edge) in self.edges.iter().enumerate() {
            let ((x0, y0), (x1, y1)) = (centre(edge.from), centre(edge.to));
            let (from, to) = (sizes[edge.from], sizes[edge.to]);
            let middle = if forward[index] {
                let (start, tip) = ((x0 + from.0 / 2.0, y0), (x1 - to.0 / 2.0, y1));
                let bend = (tip.0 - start.0) / 2.0;
                let curve = Data::new()
                    .move_to((px(start.0), px(start.1)))
                    .cubic_curve_to((
                        px(start.0 + bend),
                        px(start.1),
                        px(tip.0 - bend),
                        px(tip.1),
                        px(tip.0 - 8.0),
                        px(tip.1),
                    ));
                canvas.arrow(curve, tip, (1.0, 0.0), edge.dashed);
                ((start.0 + tip.0) / 2.0, (start.1 + tip.1) / 2.0)
            } else {
                // It leaves by the source's left side (never through a box under it), runs under
                // every box, each back arrow a little lower than the one before, and rises into
                // the target from below.
                back += 1.0;
                let depth = bottom + 20.0 + 26.0 * back;
                let (start, tip) = ((x0 - from.0 / 2.0, y0), (x1, y1 + to.1 / 2.0));
                let curve = Data::new()
                    .move_to((px(start.0), px(start.1)))
                    .cubic_curve_to((
                        px(start.0 - 30.0),
                        px(depth),
                        px(tip.0),
                        px(depth),
                        px(tip.0),
                        px(tip.1 + 8.0),
                    ));
                canvas.arrow(curve, tip, (0.0, -1.0), edge.dashed);
                // The curve's middle, where its label goes.
                (
                    (4.0 * start.0 - 90.0 + 4.0 * tip.0) / 8.0,
                    (start.1 + tip.1 + 6.0 * depth) / 8.0,
                )
            };
            if let Some(text) = &edge.label {
                labels.push((middle, text));
            }
        }
        for (index, node) in self.nodes.iter().enumerate() {
            canvas.node(
                centre(index),
                node.shape,
                &lines[index],
                &node.lines.join(" "),
            );
        }
        // Labels last, over the arrows and boxes they might cross.
        for (at, text) in labels {
            canvas.label(at, text);
        }
        canvas.finish("Architecture: the components and flows the runs used")
    }

    /// Whether the edges marked in `accepted` lead from `from` to `to`.
    fn leads(&self, accepted: &[bool], from: usize, to: usize) -> bool {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![from];
        while let Some(node) = stack.pop() {
            if node == to {
                return true;
            }
            if std::mem::replace(&mut seen[node], true) {
                continue;
            }
            let next = self
                .edges
                .iter()
                .enumerate()
                .filter(|(i, e)| accepted[*i] && e.from == node);
            stack.extend(next.map(|(_, e)| e.to));
        }
        false
    }
}

fn max_of(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, f64::max)
}

impl Plan {
    /// A timeline: a row per step, its bar as long as its duration and as tall as its target
    /// rate, its duration and target written after it; the run's start above, its end below.
    pub fn svg(&self) -> String {
        const SCALE_WIDTH: f64 = 480.0;
        const ROW: f64 = 24.0;
        const BAR: f64 = 16.0;
        let mut canvas = Canvas::new();
        let names: Vec<String> = self
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| format!("{index}. {}", step.name))
            .collect();
        let axis_left = max_of(names.iter().map(|n| text_width(n))) + 16.0;
        // Where each step starts: as recorded, else where the step before it ended.
        let mut spans = Vec::new();
        let mut cursor = 0.0;
        for step in &self.steps {
            let start = step.start_s.unwrap_or(cursor);
            cursor = start + step.duration_s.unwrap_or(0.0);
            spans.push((start, step.duration_s));
        }
        let total = spans
            .iter()
            .map(|(start, duration)| start + duration.unwrap_or(0.0))
            .fold(0.0, f64::max);
        let scale = if total > 0.0 {
            SCALE_WIDTH / total
        } else {
            0.0
        };
        let fastest = max_of(self.steps.iter().filter_map(|s| s.target.flatten()));
        let start = format!("start: {}", self.scenario);
        canvas.text((0.0, 0.0), "start", &start, &[("font-weight", "bold")]);
        for (index, (step, (start, duration))) in self.steps.iter().zip(&spans).enumerate() {
            let y = 26.0 + ROW * index as f64;
            canvas.text((0.0, y), "start", &names[index], &[]);
            let x = axis_left + start * scale;
            let mut after = x;
            if let Some(duration) = duration {
                let (height, colour) = match step.target {
                    Some(Some(rate)) if fastest > 0.0 => {
                        ((BAR * rate / fastest).max(4.0), "#34a853")
                    }
                    Some(None) => (BAR, "#f29900"),
                    _ => (BAR, "#bdc1c6"),
                };
                let width = (duration * scale).max(2.0);
                let bar = canvas
                    .rectangle((x, y + BAR / 2.0 - height), (width, height))
                    .set("fill", colour);
                canvas.add(bar);
                after = x + width;
            }
            let details = match (duration, step.details()) {
                (Some(_), details) => details,
                (None, details) if details.is_empty() => "duration not measured".into(),
                (None, details) => format!("duration not measured, {details}"),
            };
            canvas.text((after + 6.0, y), "start", &details, &[]);
        }
        let axis = 26.0 + ROW * self.steps.len() as f64 - 6.0;
        self.draw_axis(&mut canvas, axis_left, axis, total, scale);
        let end = format!("end: {}", self.end);
        let colour = if self.failed { "#c5221f" } else { INK };
        canvas.text(
            (0.0, axis + 32.0),
            "start",
            &end,
            &[("font-weight", "bold"), ("fill", colour)],
        );
        let legend =
            "bar length: duration; height: target rate (orange: unthrottled, grey: no target)";
        canvas.text(
            (0.0, axis + 50.0),
            "start",
            legend,
            &[("fill", MUTED), ("font-size", "11")],
        );
        canvas.finish(&format!("Test plan of {}", self.scenario))
    }

    /// The time axis under the bars, seconds from the run's start.
    fn draw_axis(&self, canvas: &mut Canvas, left: f64, y: f64, total: f64, scale: f64) {
        let right = left + total * scale;
        let axis = Line::new()
            .set("x1", px(left))
            .set("y1", px(y))
            .set("x2", px(right))
            .set("y2", px(y))
            .set("stroke", MUTED);
        canvas.add(axis);
        if total <= 0.0 {
            return;
        }
        // A round step (1, 2 or 5 times a power of ten): two to four of them span the run.
        let magnitude = 10f64.powf((total / 4.0).log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|step| total / step <= 4.0 + 1e-9)
            .unwrap_or(10.0 * magnitude);
        let precision = (-step.log10().floor()).max(0.0) as usize;
        let ticks = (total / step + 1e-9).floor() as usize;
        for tick in 0..=ticks {
            let seconds = step * tick as f64;
            let x = left + seconds * scale;
            let mark = Line::new()
                .set("x1", px(x))
                .set("y1", px(y))
                .set("x2", px(x))
                .set("y2", px(y + 4.0))
                .set("stroke", MUTED);
            canvas.add(mark);
            let label = format!("{seconds:.precision$} s");
            canvas.text((x, y + 13.0), "middle", &label, &[("fill", MUTED)]);
        }
    }
}
