use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::error::PlotError;
use crate::figure::{finite_points, Figure, LineStyle, Panel, Ranges};
use crate::palette::PALETTE;

const FONT: &str = "sans-serif";

/// Registers DejaVu Sans with plotters' ab_glyph text renderer, once per process, under every
/// family name plotters or a caller might ask for.
fn register_fonts() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let regular = dejavu::sans::regular();
        let bold = dejavu::sans::bold();
        ["sans-serif", "serif", "monospace"].iter().all(|family| {
            register_font(family, FontStyle::Normal, regular).is_ok()
                && register_font(family, FontStyle::Bold, bold).is_ok()
        })
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

fn draw_err(e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

fn colour(index: usize) -> RGBColor {
    let (r, g, b) = PALETTE[index];
    RGBColor(r, g, b)
}

/// Renders the figure as an SVG document. Text stays text (`<text>` elements in sans-serif),
/// so the labels are searchable; the embedded font is used only to measure it.
pub fn render_svg(fig: &Figure) -> Result<String, PlotError> {
    let ranges = fig.validate()?;
    register_fonts()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, fig.size()).into_drawing_area();
        draw_figure(fig, &ranges, &root)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Writes the figure as SVG to `path` through [`goodhart_core::write_atomic`]: a reader sees the
/// old file or the new one, never half of one, and the new one survives a crash once written.
pub fn write_svg(fig: &Figure, path: &Path) -> Result<(), PlotError> {
    let svg = render_svg(fig)?;
    goodhart_core::write_atomic(path, svg.as_bytes())
        .map_err(|source| PlotError::Io { path: path.to_path_buf(), source })
}

/// Writes the figure as PNG (RGB, [`PANEL_WIDTH`](crate::PANEL_WIDTH) px per panel by
/// [`HEIGHT`](crate::HEIGHT) px) to `path`, durably like [`write_svg`]: drawn into a temporary
/// file beside it, fsynced and published with [`goodhart_core::publish`].
pub fn write_png(fig: &Figure, path: &Path) -> Result<(), PlotError> {
    let ranges = fig.validate()?;
    register_fonts()?;
    let io = |source| PlotError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    // The encoder picks the format from the extension, so the temporary name ends in `.png`.
    let mut tmp = goodhart_core::temp_path(path).into_os_string();
    tmp.push(".png");
    let tmp = std::path::PathBuf::from(tmp);
    let drawn = (|| {
        let root = BitMapBackend::new(&tmp, fig.size()).into_drawing_area();
        draw_figure(fig, &ranges, &root)?;
        root.present().map_err(draw_err)
    })();
    let published = drawn.and_then(|()| {
        goodhart_core::sync_file(&tmp).and_then(|()| goodhart_core::publish(&tmp, path)).map_err(io)
    });
    if published.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    published
}

fn draw_figure<DB: DrawingBackend>(
    fig: &Figure,
    ranges: &[Ranges],
    root: &DrawingArea<DB, Shift>,
) -> Result<(), PlotError> {
    root.fill(&WHITE).map_err(draw_err)?;
    let body = if fig.title.is_empty() {
        root.clone()
    } else {
        root.titled(&fig.title, (FONT, 30)).map_err(draw_err)?
    };
    let columns = fig.panels.len().max(fig.strip.len());
    let (main, strip) = if fig.strip.is_empty() {
        (body, None)
    } else {
        let (_, h) = body.dim_in_pixel();
        let (main, strip) = body.split_vertically(h.saturating_sub(crate::figure::STRIP_HEIGHT));
        (main, Some(strip))
    };
    let areas = main.split_evenly((1, columns));
    for ((panel, r), area) in fig.panels.iter().zip(ranges).zip(&areas) {
        draw_panel(panel, *r, area)?;
    }
    if let Some(strip) = strip {
        let areas = strip.split_evenly((1, columns));
        for ((panel, r), area) in fig.strip.iter().zip(&ranges[fig.panels.len()..]).zip(&areas) {
            draw_panel(panel, *r, area)?;
        }
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    panel: &Panel,
    r: Ranges,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), PlotError> {
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 24))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(r.x.0..r.x.1, r.y.0..r.y.1)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 20))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
        .draw()
        .map_err(draw_err)?;

    // Bands first, so that no band covers a line.
    for s in &panel.series {
        let (upper, lower): (Vec<_>, Vec<_>) =
            finite_points(s).filter_map(|(x, y, e)| e.map(|e| ((x, y + e), (x, y - e)))).unzip();
        if upper.len() >= 2 {
            let outline: Vec<(f64, f64)> = upper.into_iter().chain(lower.into_iter().rev()).collect();
            chart
                .draw_series(std::iter::once(Polygon::new(outline, colour(s.colour).mix(0.2))))
                .map_err(draw_err)?;
        }
    }

    for s in &panel.series {
        let c = colour(s.colour);
        let points: Vec<(f64, f64)> = finite_points(s).map(|(x, y, _)| (x, y)).collect();
        // A series with an empty label gets no legend entry at all.
        let label = (!s.label.is_empty()).then_some(s.label.as_str());
        match s.style {
            LineStyle::Solid | LineStyle::Thin => {
                let style = c.stroke_width(if s.style == LineStyle::Thin { 1 } else { 2 });
                let anno = chart.draw_series(LineSeries::new(points, style)).map_err(draw_err)?;
                if let Some(label) = label {
                    anno.label(label)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
                }
            }
            LineStyle::Dashed => {
                let style = c.stroke_width(2);
                let anno =
                    chart.draw_series(DashedLineSeries::new(points, 10, 6, style)).map_err(draw_err)?;
                if let Some(label) = label {
                    anno.label(label)
                        .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 24, y)], 7, 4, style));
                }
            }
            LineStyle::Markers => {
                let style = c.filled();
                let anno = chart
                    .draw_series(points.into_iter().map(|p| Circle::new(p, 3, style)))
                    .map_err(draw_err)?;
                if let Some(label) = label {
                    anno.label(label).legend(move |(x, y)| Circle::new((x + 12, y), 3, style));
                }
            }
        }
    }

    if panel.series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(draw_err)?;
    }
    Ok(())
}
