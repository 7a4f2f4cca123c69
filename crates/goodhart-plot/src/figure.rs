use crate::error::PlotError;
use crate::palette::PALETTE;

/// How a series is stroked. The paper's figure 1: gold [`Solid`](LineStyle::Solid), proxy
/// [`Dashed`](LineStyle::Dashed), fitted law [`Thin`](LineStyle::Thin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineStyle {
    /// A solid line, 2 px wide.
    #[default]
    Solid,
    /// A dashed line, 2 px wide.
    Dashed,
    /// A solid line, 1 px wide.
    Thin,
    /// Markers only (filled circles), no line: raw measurements beside a fitted [`Thin`](LineStyle::Thin) law.
    Markers,
}

/// One curve: points joined in the order given (sort them by x first), one colour of [`PALETTE`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend entry; an empty label gives no legend entry.
    pub label: String,
    /// Index into [`PALETTE`], ordered by RM size (0 = smallest); see [`spread_colour`](crate::spread_colour).
    pub colour: usize,
    pub style: LineStyle,
    /// `(x, y)`; points with a non-finite coordinate are skipped (the line bridges the gap).
    pub points: Vec<(f64, f64)>,
    /// One standard error per point, drawn as a shaded band `y +- error`; NaN for none.
    pub error: Option<Vec<f64>>,
}

impl Series {
    pub fn new(label: impl Into<String>, colour: usize, style: LineStyle, points: Vec<(f64, f64)>) -> Self {
        Series { label: label.into(), colour, style, points, error: None }
    }

    /// Adds standard errors (one per point), drawn as a band.
    pub fn with_error(mut self, error: Vec<f64>) -> Self {
        self.error = Some(error);
        self
    }
}

/// One set of axes with its series and a legend.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

impl Panel {
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        Panel { title: title.into(), x_label: x_label.into(), y_label: y_label.into(), series: Vec::new() }
    }

    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }
}

/// A figure: a title over panels drawn side by side, each [`PANEL_WIDTH`] x [`HEIGHT`] pixels,
/// and optionally a strip of thin panels under them ([`STRIP_HEIGHT`] high), the `k`-th under
/// the `k`-th panel: a quantity that qualifies the curves above it, on the same x axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figure {
    pub title: String,
    pub panels: Vec<Panel>,
    pub strip: Vec<Panel>,
}

/// Width of one panel, in pixels (SVG user units and PNG pixels alike).
pub const PANEL_WIDTH: u32 = 1000;
/// Height of a figure, in pixels.
pub const HEIGHT: u32 = 700;
/// Height of the strip of thin panels under the main ones, when a figure has one.
pub const STRIP_HEIGHT: u32 = 260;

impl Figure {
    pub fn new(title: impl Into<String>) -> Self {
        Figure { title: title.into(), panels: Vec::new(), strip: Vec::new() }
    }

    pub fn with_panel(mut self, panel: Panel) -> Self {
        self.panels.push(panel);
        self
    }

    /// This figure with a thin panel under the next free column.
    pub fn with_strip(mut self, panel: Panel) -> Self {
        self.strip.push(panel);
        self
    }

    /// `(width, height)` in pixels: [`PANEL_WIDTH`] per column by [`HEIGHT`], plus
    /// [`STRIP_HEIGHT`] with a strip.
    pub fn size(&self) -> (u32, u32) {
        let columns = self.panels.len().max(self.strip.len()).max(1) as u32;
        let strip = if self.strip.is_empty() { 0 } else { STRIP_HEIGHT };
        (PANEL_WIDTH * columns, HEIGHT + strip)
    }

    /// Checks everything that would make drawing fail, and returns each panel's axis ranges.
    pub(crate) fn validate(&self) -> Result<Vec<Ranges>, PlotError> {
        if self.panels.is_empty() {
            return Err(PlotError::EmptyFigure { title: self.title.clone() });
        }
        self.panels.iter().chain(&self.strip).enumerate().map(|(i, p)| p.validate(i)).collect()
    }
}

/// Axis ranges of a panel: `(x_min, x_max)` and `(y_min, y_max)` with margins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ranges {
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Panel {
    fn validate(&self, panel: usize) -> Result<Ranges, PlotError> {
        let mut xs = Bounds::default();
        let mut ys = Bounds::default();
        for s in &self.series {
            if s.colour >= PALETTE.len() {
                return Err(PlotError::ColourOutOfRange {
                    panel,
                    label: s.label.clone(),
                    colour: s.colour,
                    len: PALETTE.len(),
                });
            }
            if let Some(err) = &s.error {
                if err.len() != s.points.len() {
                    return Err(PlotError::ErrorLength {
                        panel,
                        label: s.label.clone(),
                        got: err.len(),
                        expected: s.points.len(),
                    });
                }
                if let Some((index, &value)) = err.iter().enumerate().find(|(_, e)| **e < 0.0) {
                    return Err(PlotError::NegativeError { panel, label: s.label.clone(), index, value });
                }
            }
            for (i, &(x, y)) in s.points.iter().enumerate() {
                if !(x.is_finite() && y.is_finite()) {
                    continue;
                }
                xs.add(x);
                ys.add(y);
                if let Some(e) = s.error.as_ref().map(|e| e[i]).filter(|e| e.is_finite()) {
                    ys.add(y - e);
                    ys.add(y + e);
                }
            }
        }
        match (xs.padded(), ys.padded()) {
            (Some(x), Some(y)) => Ok(Ranges { x, y }),
            _ => Err(PlotError::EmptyPanel { panel, title: self.title.clone() }),
        }
    }
}

#[derive(Default)]
struct Bounds(Option<(f64, f64)>);

impl Bounds {
    fn add(&mut self, v: f64) {
        self.0 = Some(match self.0 {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }

    /// The range with a 5% margin each side; a single value gets +-10% of itself (at least 0.5).
    fn padded(&self) -> Option<(f64, f64)> {
        let (lo, hi) = self.0?;
        let pad = if hi > lo { 0.05 * (hi - lo) } else { (0.1 * lo.abs()).max(0.5) };
        Some((lo - pad, hi + pad))
    }
}

/// The finite points of a series, with their finite standard errors (if any).
pub(crate) fn finite_points(s: &Series) -> impl Iterator<Item = (f64, f64, Option<f64>)> + '_ {
    s.points.iter().enumerate().filter(|(_, (x, y))| x.is_finite() && y.is_finite()).map(|(i, &(x, y))| {
        let e = s.error.as_ref().map(|e| e[i]).filter(|e| e.is_finite());
        (x, y, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_have_margins_and_skip_non_finite() {
        let panel = Panel::new("p", "x", "y").with_series(Series::new(
            "a",
            0,
            LineStyle::Solid,
            vec![(0.0, 0.0), (f64::NAN, 5.0), (10.0, f64::INFINITY), (10.0, 2.0)],
        ));
        let r = panel.validate(0).unwrap();
        assert_eq!(r.x, (-0.5, 10.5));
        assert_eq!(r.y, (-0.1, 2.1));
    }

    #[test]
    fn error_band_widens_the_y_range() {
        let s = Series::new("a", 0, LineStyle::Solid, vec![(0.0, 0.0), (1.0, 1.0)])
            .with_error(vec![1.0, f64::NAN]);
        let r = Panel::new("p", "x", "y").with_series(s).validate(0).unwrap();
        assert!((r.y.0 - (-1.1)).abs() < 1e-12 && (r.y.1 - 1.1).abs() < 1e-12, "{:?}", r.y);
    }

    #[test]
    fn a_single_point_gets_a_non_empty_range() {
        let s = Series::new("a", 0, LineStyle::Markers, vec![(0.0, 0.0)]);
        let r = Panel::new("p", "x", "y").with_series(s).validate(0).unwrap();
        assert_eq!(r.x, (-0.5, 0.5));
    }
}
